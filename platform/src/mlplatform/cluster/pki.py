"""Certificates, keys and kubeconfigs of the local control plane, made with `cryptography`.

A control plane authenticates every caller: here, as in a kubeadm cluster, one CA of its own signs the
serving certificates (kube-apiserver, etcd, the controller manager's and the scheduler's health
ports) and the client certificates whose subject is the identity RBAC sees: the administrator in
`system:masters`, `system:kube-controller-manager` and `system:kube-scheduler` (bound by the API
server's bootstrap roles), and kwok's own user. A second CA signs the API server's client certificate
towards aggregated API servers (the front proxy). The service-account signing key pair lets the API
server issue and verify service-account tokens.

Nothing is reissued on a rerun unless it is missing, would expire within 30 days, no longer matches
what it must name (a changed `host` or service range), or was signed by another CA.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mlplatform.cluster.layout import CONTEXT, ClusterLayout
from mlplatform.runtime.service import write_if_changed

#: The user kwok's client certificate names; RBAC binds kwok's own ClusterRoles to it.
KWOK_USER = "kwok-controller"
#: The administrator's user, in the group that RBAC always allows.
ADMIN_USER = "mlp-admin"
ADMIN_GROUP = "system:masters"
#: The CA and user the API server presents to aggregated API servers (requestheader authentication).
FRONT_PROXY_CA = "front-proxy-ca"
FRONT_PROXY_USER = "front-proxy-client"

CA_LIFETIME = datetime.timedelta(days=3650)
LEAF_LIFETIME = datetime.timedelta(days=365)
RENEW_BEFORE = datetime.timedelta(days=30)

Key = ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class CertSpec:
    """One certificate: its file name, subject, names and uses."""

    name: str
    common_name: str
    organizations: tuple[str, ...] = ()
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    server: bool = False
    client: bool = False
    #: The CA that signs it: `ca`, or `front-proxy-ca` for the API server's aggregation client.
    issuer: str = "ca"

    @property
    def subject(self) -> x509.Name:
        attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in self.organizations]
        return x509.Name([*attributes, x509.NameAttribute(NameOID.COMMON_NAME, self.common_name)])

    @property
    def alt_names(self) -> list[x509.GeneralName]:
        names: list[x509.GeneralName] = [x509.DNSName(name) for name in self.dns_names]
        names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in self.ip_addresses]
        return names


@dataclass(frozen=True)
class Pki:
    layout: ClusterLayout
    _now: datetime.datetime = field(default_factory=lambda: datetime.datetime.now(datetime.UTC))

    # -- paths ----------------------------------------------------------------------------------
    @property
    def ca_cert(self) -> Path:
        return self.cert("ca")

    @property
    def ca_key(self) -> Path:
        return self.key("ca")

    def cert(self, name: str) -> Path:
        return self.layout.pki / f"{name}.crt"

    def key(self, name: str) -> Path:
        return self.layout.pki / f"{name}.key"

    @property
    def service_account_key(self) -> Path:
        return self.layout.pki / "sa.key"

    @property
    def service_account_public_key(self) -> Path:
        return self.layout.pki / "sa.pub"

    # -- what is issued -------------------------------------------------------------------------
    def specs(self) -> list[CertSpec]:
        host = self.layout.settings.host
        loopback_ips = tuple(dict.fromkeys((host, "127.0.0.1")))
        service_names = ("kubernetes", "kubernetes.default", "kubernetes.default.svc")

        def serving(name: str, common_name: str) -> CertSpec:
            return CertSpec(name, common_name, (), ("localhost",), loopback_ips, server=True)

        return [
            CertSpec(
                "kube-apiserver",
                "kube-apiserver",
                dns_names=("localhost", *service_names, "kubernetes.default.svc.cluster.local"),
                ip_addresses=(*loopback_ips, self.layout.service_ip),
                server=True,
            ),
            CertSpec("kube-apiserver-etcd-client", "kube-apiserver-etcd-client", client=True),
            # etcd's peer port serves and dials with the same certificate.
            CertSpec("etcd", "etcd", (), ("localhost",), loopback_ips, server=True, client=True),
            serving("kube-controller-manager-serving", "kube-controller-manager"),
            serving("kube-scheduler-serving", "kube-scheduler"),
            CertSpec("admin", ADMIN_USER, organizations=(ADMIN_GROUP,), client=True),
            CertSpec("kube-controller-manager", "system:kube-controller-manager", client=True),
            CertSpec("kube-scheduler", "system:kube-scheduler", client=True),
            CertSpec("kwok", KWOK_USER, client=True),
            # The API server's client identity towards aggregated API servers, as in kubeadm.
            CertSpec("front-proxy-client", FRONT_PROXY_USER, client=True, issuer=FRONT_PROXY_CA),
        ]

    def ensure(self) -> None:
        """Create or renew the CA, every certificate and the service-account key pair."""
        self.layout.pki.mkdir(parents=True, exist_ok=True)
        self.layout.pki.chmod(0o700)
        authorities = {name: self._ensure_ca(name) for name in ("ca", FRONT_PROXY_CA)}
        for spec in self.specs():
            ca_cert, ca_key = authorities[spec.issuer]
            if not self._still_good(spec, ca_cert):
                self._issue(spec, ca_cert, ca_key)
        if not (self.service_account_key.exists() and self.service_account_public_key.exists()):
            key = ec.generate_private_key(ec.SECP256R1())
            _write_key(self.service_account_key, key)
            public = key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            _write(self.service_account_public_key, public, 0o644)

    def write_kubeconfigs(self) -> None:
        """The administrator's kubeconfig and one per component, each with its certificate embedded."""
        users = [(self.layout.kubeconfig, "admin", ADMIN_USER)]
        for name in ("kube-controller-manager", "kube-scheduler"):
            users.append((self.layout.component_kubeconfig(name), name, name))
        users.append((self.layout.component_kubeconfig("kwok"), "kwok", KWOK_USER))
        ca_data = _b64(self.ca_cert.read_bytes())
        for path, cert_name, user in users:
            config = {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {"name": CONTEXT, "cluster": {"server": self.layout.server, "certificate-authority-data": ca_data}}
                ],
                "users": [
                    {
                        "name": user,
                        "user": {
                            "client-certificate-data": _b64(self.cert(cert_name).read_bytes()),
                            "client-key-data": _b64(self.key(cert_name).read_bytes()),
                        },
                    }
                ],
                "contexts": [{"name": CONTEXT, "context": {"cluster": CONTEXT, "user": user}}],
                "current-context": CONTEXT,
                "preferences": {},
            }
            write_if_changed(path, yaml.safe_dump(config, sort_keys=False), mode=0o600)

    # -- internals ------------------------------------------------------------------------------
    def _ensure_ca(self, name: str) -> tuple[x509.Certificate, Key]:
        if self.cert(name).exists() and self.key(name).exists():
            cert = x509.load_pem_x509_certificate(self.cert(name).read_bytes())
            key = serialization.load_pem_private_key(self.key(name).read_bytes(), password=None)
            if isinstance(key, ec.EllipticCurvePrivateKey) and cert.not_valid_after_utc - self._now > RENEW_BEFORE:
                return cert, key
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{CONTEXT}-{name}")])
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self._now - datetime.timedelta(minutes=5))
            .not_valid_after(self._now + CA_LIFETIME)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_key_usage(cert_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        _write_key(self.key(name), key)
        _write(self.cert(name), cert.public_bytes(serialization.Encoding.PEM), 0o644)
        return cert, key

    def _still_good(self, spec: CertSpec, ca_cert: x509.Certificate) -> bool:
        if not (self.cert(spec.name).exists() and self.key(spec.name).exists()):
            return False
        cert = x509.load_pem_x509_certificate(self.cert(spec.name).read_bytes())
        try:
            cert.verify_directly_issued_by(ca_cert)
        except (ValueError, TypeError, InvalidSignature):
            return False
        try:
            names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            alt_names = set(names)
        except x509.ExtensionNotFound:
            alt_names = set()
        return (
            cert.subject == spec.subject
            and alt_names == set(spec.alt_names)
            and cert.not_valid_after_utc - self._now > RENEW_BEFORE
        )

    def _issue(self, spec: CertSpec, ca_cert: x509.Certificate, ca_key: Key) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        usages = [ExtendedKeyUsageOID.SERVER_AUTH] * spec.server + [ExtendedKeyUsageOID.CLIENT_AUTH] * spec.client
        builder = (
            x509.CertificateBuilder()
            .subject_name(spec.subject)
            .issuer_name(ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self._now - datetime.timedelta(minutes=5))
            .not_valid_after(self._now + LEAF_LIFETIME)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(cert_sign=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        )
        if spec.alt_names:
            builder = builder.add_extension(x509.SubjectAlternativeName(spec.alt_names), critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        _write_key(self.key(spec.name), key)
        _write(self.cert(spec.name), cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _key_usage(cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _write_key(path: Path, key: Key) -> None:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    _write(path, pem, 0o600)


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write through a new file, created with its final mode, then rename it into place."""
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    partial.replace(path)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
