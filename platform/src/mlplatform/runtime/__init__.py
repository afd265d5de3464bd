"""The platform as local processes under supervisord."""
