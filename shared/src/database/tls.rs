//! How database connections are secured: `DB_TLS` and `DB_CA_BUNDLE`, read and checked at
//! start-up; the trusted roots (the bundle's when one is given, else the system's) loaded on a thread of their own
//! while the function waits for its first event, or else at the first TLS connection.

use super::secret::{DbSecret, SecretTls};
use crate::config::{ConfigError, Env};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use std::sync::{Arc, OnceLock};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Verified TLS: the server's certificate must chain to a trusted root and name the host.
    VerifyFull,
    /// No TLS for any secret (`DB_TLS=disable`).
    Disable,
}

pub struct TlsSettings {
    pub mode: TlsMode,
    /// The `DB_CA_BUNDLE` certificates, each accepted by rustls at start-up.
    bundle: Arc<Vec<CertificateDer<'static>>>,
    /// The trusted roots: the bundle's alone when one is given (as libpq's `sslrootcert` and the
    /// MySQL clients' `--ssl-ca` trust only the file they are given: a user who names the RDS
    /// bundle means "these CAs", not "these as well"), else the system's that rustls accepts; and
    /// the same parsed into rustls's store: read and parsed once (a directory of PEM files costs milliseconds to read and
    /// parse), by [`TlsSettings::load_roots_in_background`] or the first TLS connection.
    roots: Arc<OnceLock<&'static Roots>>,
}

/// Kept for the rest of the process (`'static`), so that a driver which takes its roots as
/// `'static` bytes (mysql_async) borrows them instead of copying all of them (about 160 KB on
/// the development machine) for every connection.
struct Roots {
    certificates: Vec<CertificateDer<'static>>,
    store: Arc<rustls::RootCertStore>,
}

impl TlsSettings {
    /// `DB_TLS` (`verify-full` or `disable`), `DB_CA_BUNDLE` (a PEM file of the CAs to trust
    /// instead of the system's, such as the RDS bundle; none by default).
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let mode = match env.string_or("DB_TLS", "verify-full").as_str() {
            "verify-full" => TlsMode::VerifyFull,
            "disable" => TlsMode::Disable,
            other => {
                return Err(ConfigError::Invalid {
                    name: "DB_TLS",
                    reason: format!("expected verify-full or disable, got {other:?}"),
                })
            }
        };
        // A bundle that cannot be read or holds a certificate rustls refuses is an error now,
        // not at the first connection.
        let mut bundle = Vec::new();
        if let Some(path) = env.optional("DB_CA_BUNDLE") {
            let invalid = |reason: String| ConfigError::Invalid {
                name: "DB_CA_BUNDLE",
                reason,
            };
            bundle = CertificateDer::pem_file_iter(path)
                .map_err(|e| invalid(format!("cannot read {path}: {e}")))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| invalid(format!("{path} is not a PEM certificate bundle: {e}")))?;
            if bundle.is_empty() {
                return Err(invalid(format!("{path} holds no certificate")));
            }
            let mut check = rustls::RootCertStore::empty();
            for certificate in &bundle {
                check
                    .add(certificate.clone())
                    .map_err(|e| invalid(format!("{path}: {e}")))?;
            }
        }
        Ok(Self {
            mode,
            bundle: Arc::new(bundle),
            roots: Arc::new(OnceLock::new()),
        })
    }

    /// TLS is off only when the secret says `ssl: false` or the setting disables it; otherwise a
    /// server without TLS, or with a certificate that does not verify, is refused.
    pub fn plaintext(&self, secret: &DbSecret) -> bool {
        secret.tls == SecretTls::Disabled || self.mode == TlsMode::Disable
    }

    /// Every trusted root, each one rustls accepts (system roots it refuses are skipped).
    pub fn roots(&self) -> &'static [CertificateDer<'static>] {
        &self.loaded().certificates
    }

    /// The roots as rustls's store (parsed when they were loaded, not again).
    pub fn root_store(&self) -> Arc<rustls::RootCertStore> {
        Arc::clone(&self.loaded().store)
    }

    /// Starts reading the roots on a thread of its own, so that the first login does not wait
    /// for them: called once the function is ready, it runs while the process waits for its
    /// first event and for the secret's reads. A first connection that comes sooner waits for
    /// it; where no thread can be started, the first connection loads them.
    pub fn load_roots_in_background(&self) {
        if self.mode == TlsMode::Disable {
            return;
        }
        let (roots, bundle) = (Arc::clone(&self.roots), Arc::clone(&self.bundle));
        let started = std::thread::Builder::new()
            .name("database-roots".into())
            .spawn(move || {
                roots.get_or_init(|| load(&bundle));
            });
        if let Err(error) = started {
            tracing::debug!(%error, "no thread to load the database's trusted roots on");
        }
    }

    fn loaded(&self) -> &'static Roots {
        self.roots.get_or_init(|| load(&self.bundle))
    }
}

/// Loads the roots once per process: a function holds one `TlsSettings` for its life, so the
/// memory left behind is what it would keep anyway. The bundle's certificates were each accepted
/// at start-up; the system's are read only when there is no bundle.
fn load(bundle: &[CertificateDer<'static>]) -> &'static Roots {
    let candidates = if bundle.is_empty() {
        rustls_native_certs::load_native_certs().certs
    } else {
        bundle.to_vec()
    };
    let mut certificates: Vec<CertificateDer<'static>> = Vec::new();
    let mut store = rustls::RootCertStore::empty();
    for certificate in candidates {
        if store.add(certificate.clone()).is_ok() {
            certificates.push(certificate);
        }
    }
    Box::leak(Box::new(Roots {
        certificates,
        store: Arc::new(store),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verified_tls_is_the_default_and_a_bad_bundle_is_refused_at_start_up() {
        let settings = TlsSettings::from_env(&Env::default()).unwrap();
        assert_eq!(settings.mode, TlsMode::VerifyFull);
        assert!(
            TlsSettings::from_env(&Env::from_pairs([("DB_TLS", "disable")]))
                .is_ok_and(|s| s.mode == TlsMode::Disable)
        );
        for (name, value) in [
            ("DB_TLS", "prefer"),
            ("DB_CA_BUNDLE", "/nonexistent/bundle.pem"),
            ("DB_CA_BUNDLE", "/dev/null"),
        ] {
            assert!(
                matches!(
                    TlsSettings::from_env(&Env::from_pairs([(name, value)])),
                    Err(ConfigError::Invalid { name: n, .. }) if n == name
                ),
                "{name}={value}"
            );
        }
    }

    #[test]
    fn connections_read_the_roots_the_background_thread_loaded() {
        let settings = TlsSettings::from_env(&Env::default()).unwrap();
        settings.load_roots_in_background();
        // `roots` waits for the thread if it is still reading.
        assert_eq!(settings.roots().len(), load(&[]).certificates.len());
        assert_eq!(settings.root_store().len(), settings.roots().len());
    }

    #[test]
    fn a_bundle_replaces_the_system_roots() {
        let system = load(&[]).certificates.len();
        let ca = rcgen::CertificateParams::new(Vec::<String>::new())
            .and_then(|mut params| {
                params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
                params.self_signed(&rcgen::KeyPair::generate()?)
            })
            .unwrap();
        let path = std::env::temp_dir().join(format!("bundle-{}.pem", std::process::id()));
        std::fs::write(&path, ca.pem()).unwrap();
        let settings =
            TlsSettings::from_env(&Env::from_pairs([("DB_CA_BUNDLE", path.to_str().unwrap())]))
                .unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(settings.roots(), [ca.der().clone()]);
        assert_eq!(settings.root_store().len(), 1);
        assert!(system > 1, "the system roots are there to be left out");
    }
}
