# The Airflow DAGs of the recipe beside this file (same name, .yaml), built by the mlpipelines DAG factory.
# One DAG file per recipe: an invalid recipe is an import error of this file alone. Do not edit.
from mlpipelines.factory import recipe_dags

globals().update(recipe_dags(__file__))
