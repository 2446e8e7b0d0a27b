//! Where S3 credentials, region and endpoint come from: the environment and
//! the shared `credentials` / `config` files, with the AWS CLI's precedence
//! (AWS docs: "Configuration and credential file settings" and
//! "Environment variables to configure the AWS CLI"; the endpoint variables
//! from "Service-specific endpoints" in the AWS SDKs and Tools Reference
//! Guide):
//!
//! - credentials: `AWS_ACCESS_KEY_ID` + `AWS_SECRET_ACCESS_KEY` (+
//!   `AWS_SESSION_TOKEN`), else the profile's `aws_access_key_id` /
//!   `aws_secret_access_key` / `aws_session_token` in the credentials file
//!   (`AWS_SHARED_CREDENTIALS_FILE`, default `~/.aws/credentials`, section
//!   `[NAME]`), else in the config file (`AWS_CONFIG_FILE`, default
//!   `~/.aws/config`, section `[profile NAME]`, or `[default]`);
//! - the profile: `AWS_PROFILE`, default `default`;
//! - the region: `AWS_REGION` > `AWS_DEFAULT_REGION` > the profile's
//!   `region` > `us-east-1`;
//! - the endpoint: `AWS_ENDPOINT_URL_S3` > `AWS_ENDPOINT_URL` > the profile's
//!   `endpoint_url`; a custom endpoint (MinIO, Ceph, R2, …) is addressed
//!   path-style, AWS itself virtual-hosted style.
//!
//! Only static keys are read: no SSO, assumed roles, `credential_process` or
//! instance metadata.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::fetch::FetchError;
use super::http::HttpOptions;

/// Static S3 credentials. `Debug` does not show the secret nor the token.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Credentials {
    /// The access key id (`AKIA…`); not a secret.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The session token of temporary credentials.
    pub session_token: Option<String>,
    /// Where they were found, for messages: `the environment` or
    /// `profile 'x' in /root/.aws/credentials`.
    pub source: String,
}

impl fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .field("source", &self.source)
            .finish()
    }
}

/// How to reach an S3 store.
#[derive(Debug, Clone)]
pub struct S3Config {
    /// The signing region (`us-east-1`, …).
    pub region: String,
    /// A custom endpoint (`http://127.0.0.1:9000`), addressed path-style;
    /// `None` is AWS (`https://BUCKET.s3.REGION.amazonaws.com`).
    pub endpoint: Option<String>,
    /// `None`: anonymous, unsigned requests (`--no-sign-request`).
    pub credentials: Option<S3Credentials>,
    /// Timeouts and extra headers of the HTTP requests.
    pub http: HttpOptions,
}

/// The name S3 configuration errors carry.
const CONFIG: &str = "S3 configuration";

fn config_error(detail: String) -> FetchError {
    FetchError::Fatal {
        name: CONFIG.to_owned(),
        detail,
    }
}

impl S3Config {
    /// Reads the configuration as the AWS CLI does (see the module docs).
    /// With `no_sign_request`, no credentials are looked for and requests go
    /// unsigned (public objects). Missing files are fine; a profile named by
    /// `AWS_PROFILE` that is in neither file, or no credentials at all, is
    /// an error.
    pub fn from_env(no_sign_request: bool) -> Result<S3Config, FetchError> {
        resolve(&|k| std::env::var(k).ok(), no_sign_request)
    }

    /// [`S3Config::from_env`] with the variables looked up by `var` instead
    /// of in the process environment (`HOME` included): for callers that
    /// override some, and for tests, which must not change the environment
    /// of a multi-threaded process.
    pub fn from_vars(
        var: &dyn Fn(&str) -> Option<String>,
        no_sign_request: bool,
    ) -> Result<S3Config, FetchError> {
        resolve(var, no_sign_request)
    }
}

/// [`S3Config::from_env`] with the environment given as a function.
pub(crate) fn resolve(
    env: &dyn Fn(&str) -> Option<String>,
    no_sign_request: bool,
) -> Result<S3Config, FetchError> {
    let var = |k: &str| env(k).filter(|v| !v.is_empty());
    let home = var("HOME")
        .or_else(|| var("USERPROFILE"))
        .map(PathBuf::from);
    let default_file = |name: &str| home.as_ref().map(|h| h.join(".aws").join(name));
    let creds_path = var("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| default_file("credentials"));
    let config_path = var("AWS_CONFIG_FILE")
        .map(PathBuf::from)
        .or_else(|| default_file("config"));
    let explicit_profile = var("AWS_PROFILE");
    let profile = explicit_profile
        .clone()
        .unwrap_or_else(|| "default".to_owned());

    let creds_file = read_ini(creds_path.as_deref())?;
    let config_file = read_ini(config_path.as_deref())?;
    let from_creds = creds_file.get(&profile);
    let config_section = if profile == "default" {
        config_file
            .get("default")
            .or_else(|| config_file.get("profile default"))
    } else {
        config_file.get(&format!("profile {profile}"))
    };
    if explicit_profile.is_some() && from_creds.is_none() && config_section.is_none() {
        let files: Vec<String> = [&creds_path, &config_path]
            .into_iter()
            .flatten()
            .map(|p| p.display().to_string())
            .collect();
        return Err(config_error(format!(
            "the profile '{profile}' (AWS_PROFILE) is in none of {}",
            files.join(", ")
        )));
    }
    let key = |k: &str| {
        from_creds
            .and_then(|s| s.get(k))
            .or_else(|| config_section.and_then(|s| s.get(k)))
            .filter(|v| !v.is_empty())
            .cloned()
    };
    let region = var("AWS_REGION")
        .or_else(|| var("AWS_DEFAULT_REGION"))
        .or_else(|| config_section.and_then(|s| s.get("region")).cloned())
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "us-east-1".to_owned());
    let endpoint = var("AWS_ENDPOINT_URL_S3")
        .or_else(|| var("AWS_ENDPOINT_URL"))
        .or_else(|| {
            config_section
                .and_then(|s| s.get("endpoint_url"))
                .filter(|v| !v.is_empty())
                .cloned()
        });

    let credentials = if no_sign_request {
        None
    } else {
        Some(credentials(
            &var,
            &key,
            &profile,
            from_creds.is_some(),
            &creds_path,
            &config_path,
        )?)
    };
    Ok(S3Config {
        region,
        endpoint,
        credentials,
        http: HttpOptions::default(),
    })
}

fn credentials(
    var: &dyn Fn(&str) -> Option<String>,
    key: &dyn Fn(&str) -> Option<String>,
    profile: &str,
    in_creds_file: bool,
    creds_path: &Option<PathBuf>,
    config_path: &Option<PathBuf>,
) -> Result<S3Credentials, FetchError> {
    match (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
        (Some(id), Some(secret)) => {
            return Ok(S3Credentials {
                access_key_id: id,
                secret_access_key: secret,
                session_token: var("AWS_SESSION_TOKEN"),
                source: "the environment".to_owned(),
            });
        }
        (Some(_), None) => {
            return Err(config_error(
                "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not".to_owned(),
            ));
        }
        (None, Some(_)) => {
            return Err(config_error(
                "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not".to_owned(),
            ));
        }
        (None, None) => {}
    }
    let file = if in_creds_file {
        creds_path
    } else {
        config_path
    };
    let file = file
        .as_ref()
        .map_or_else(|| "the AWS files".to_owned(), |p| p.display().to_string());
    match (key("aws_access_key_id"), key("aws_secret_access_key")) {
        (Some(id), Some(secret)) => Ok(S3Credentials {
            access_key_id: id,
            secret_access_key: secret,
            session_token: key("aws_session_token"),
            source: format!("profile '{profile}' in {file}"),
        }),
        (Some(_), None) | (None, Some(_)) => Err(config_error(format!(
            "the profile '{profile}' in {file} needs both aws_access_key_id and \
             aws_secret_access_key"
        ))),
        (None, None) => Err(config_error(format!(
            "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or \
             AWS_PROFILE with keys in {file}, or read a public object unsigned \
             (--no-sign-request)"
        ))),
    }
}

/// Sections (`[name]`, as written, inner whitespace collapsed) of lower-case
/// keys to values.
pub(crate) type Ini = HashMap<String, HashMap<String, String>>;

fn read_ini(path: Option<&Path>) -> Result<Ini, FetchError> {
    let Some(path) = path else {
        return Ok(Ini::new());
    };
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(parse_ini(&text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Ini::new()),
        Err(e) => Err(config_error(format!("cannot read {}: {e}", path.display()))),
    }
}

/// The AWS files' INI dialect, as botocore reads it: `[section]`,
/// `key = value` (or `key: value`), comment lines starting with `#` or `;`,
/// no inline comments. Indented lines under a key with an empty value (the
/// nested `s3 =` settings) are skipped, as are lines outside any section and
/// lines that are none of these. A later duplicate wins.
pub(crate) fn parse_ini(text: &str) -> Ini {
    let mut ini = Ini::new();
    let mut section: Option<String> = None;
    let mut nested = false;
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let indented = raw.starts_with([' ', '\t']);
        if nested && indented {
            continue;
        }
        nested = false;
        if let Some(inner) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = inner.split_whitespace().collect::<Vec<_>>().join(" ");
            ini.entry(name.clone()).or_default();
            section = Some(name);
            continue;
        }
        let Some(sec) = &section else { continue };
        let Some(i) = line.find(['=', ':']) else {
            continue;
        };
        let (k, v) = (line.get(..i).unwrap_or(""), line.get(i + 1..).unwrap_or(""));
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_owned());
        if v.is_empty() {
            nested = true;
        }
        ini.entry(sec.clone()).or_default().insert(k, v);
    }
    ini
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn ini_dialect() {
        let ini = parse_ini(
            "# comment\n; another\n  orphan = 1\n[default]\naws_access_key_id = AKIA1\n\
             Aws_Secret_Access_Key=s3cr3t \n\n[profile  dev ]\n region : eu-west-1\n\
             s3 =\n  endpoint_url = http://nested\n  addressing_style = path\n\
             endpoint_url = http://x:9000\nnot a pair\n",
        );
        assert_eq!(ini["default"]["aws_access_key_id"], "AKIA1");
        assert_eq!(ini["default"]["aws_secret_access_key"], "s3cr3t");
        assert_eq!(ini["profile dev"]["region"], "eu-west-1");
        assert_eq!(ini["profile dev"]["endpoint_url"], "http://x:9000");
        assert_eq!(ini["profile dev"]["s3"], "");
        assert!(!ini["profile dev"].contains_key("addressing_style"));
        assert_eq!(ini.len(), 2);
    }

    fn env_of(pairs: &[(&str, String)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        move |k| m.get(k).cloned()
    }

    fn files(creds: &str, config: &str) -> (tempfile::TempDir, String, String) {
        let d = tempfile::tempdir().unwrap();
        let c = d.path().join("credentials");
        let f = d.path().join("config");
        std::fs::write(&c, creds).unwrap();
        std::fs::write(&f, config).unwrap();
        let s = |p: PathBuf| p.to_str().unwrap().to_owned();
        (d, s(c), s(f))
    }

    #[test]
    fn precedence() {
        let (_d, c, f) = files(
            "[default]\naws_access_key_id=FILEID\naws_secret_access_key=filesecret\n\
             [dev]\naws_access_key_id=DEVID\naws_secret_access_key=devsecret\n",
            "[default]\nregion=eu-central-1\n[profile dev]\nregion=ap-south-1\n\
             endpoint_url=http://127.0.0.1:9000\n[profile cfgonly]\n\
             aws_access_key_id=CFGID\naws_secret_access_key=cfgsecret\n",
        );
        let base = vec![
            ("AWS_SHARED_CREDENTIALS_FILE", c.clone()),
            ("AWS_CONFIG_FILE", f.clone()),
            ("HOME", "/nonexistent".to_owned()),
        ];
        // The default profile from the files.
        let cfg = resolve(&env_of(&base), false).unwrap();
        assert_eq!(cfg.region, "eu-central-1");
        assert_eq!(cfg.endpoint, None);
        let cr = cfg.credentials.unwrap();
        assert_eq!(cr.access_key_id, "FILEID");
        assert!(!format!("{cr:?}").contains("filesecret"));

        // A named profile: its region and endpoint; env beats the files.
        let mut env = base.clone();
        env.push(("AWS_PROFILE", "dev".to_owned()));
        let cfg = resolve(&env_of(&env), false).unwrap();
        assert_eq!(cfg.region, "ap-south-1");
        assert_eq!(cfg.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(cfg.credentials.unwrap().access_key_id, "DEVID");
        env.push(("AWS_DEFAULT_REGION", "us-west-1".to_owned()));
        assert_eq!(resolve(&env_of(&env), false).unwrap().region, "us-west-1");
        env.push(("AWS_REGION", "us-west-2".to_owned()));
        env.push(("AWS_ENDPOINT_URL", "http://a".to_owned()));
        env.push(("AWS_ACCESS_KEY_ID", "ENVID".to_owned()));
        env.push(("AWS_SECRET_ACCESS_KEY", "envsecret".to_owned()));
        env.push(("AWS_SESSION_TOKEN", "tok".to_owned()));
        let cfg = resolve(&env_of(&env), false).unwrap();
        assert_eq!(cfg.region, "us-west-2");
        assert_eq!(cfg.endpoint.as_deref(), Some("http://a"));
        let cr = cfg.credentials.unwrap();
        assert_eq!(
            (cr.access_key_id.as_str(), cr.session_token.as_deref()),
            ("ENVID", Some("tok"))
        );
        env.push(("AWS_ENDPOINT_URL_S3", "http://b".to_owned()));
        assert_eq!(
            resolve(&env_of(&env), false).unwrap().endpoint.as_deref(),
            Some("http://b")
        );

        // Keys in the config file only.
        let mut env = base.clone();
        env.push(("AWS_PROFILE", "cfgonly".to_owned()));
        let cfg = resolve(&env_of(&env), false).unwrap();
        assert_eq!(cfg.credentials.unwrap().access_key_id, "CFGID");
        assert_eq!(cfg.region, "us-east-1");

        // A missing named profile is an error that names it.
        let mut env = base.clone();
        env.push(("AWS_PROFILE", "nope".to_owned()));
        let e = resolve(&env_of(&env), false).unwrap_err().to_string();
        assert!(e.contains("'nope'") && e.contains(&c), "{e}");

        // Anonymous: no credentials looked for.
        let mut env = base;
        env.push(("AWS_PROFILE", "dev".to_owned()));
        assert!(resolve(&env_of(&env), true).unwrap().credentials.is_none());
    }

    #[test]
    fn missing_files_and_half_keys() {
        let env = vec![("HOME", "/nonexistent".to_owned())];
        let e = resolve(&env_of(&env), false).unwrap_err().to_string();
        assert!(e.contains("no S3 credentials"), "{e}");
        let cfg = resolve(&env_of(&env), true).unwrap();
        assert_eq!((cfg.region.as_str(), cfg.endpoint), ("us-east-1", None));
        let mut env = env;
        env.push(("AWS_ACCESS_KEY_ID", "ID".to_owned()));
        let e = resolve(&env_of(&env), false).unwrap_err().to_string();
        assert!(e.contains("AWS_SECRET_ACCESS_KEY is not"), "{e}");
    }
}
