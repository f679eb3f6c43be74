//! AWS shared profile files, read the way the AWS CLI and SDKs read them: the profile named by
//! the `aws_profile` storage option, else `AWS_PROFILE`, else `default`, from
//! `AWS_SHARED_CREDENTIALS_FILE` (`~/.aws/credentials`: `[name]` sections) and `AWS_CONFIG_FILE`
//! (`~/.aws/config`: `[profile name]`, or `[default]`). It gives what the environment does not:
//! the keys (unless `AWS_ACCESS_KEY_ID` is set), the region (unless `AWS_REGION` or
//! `AWS_DEFAULT_REGION` is), the endpoint (unless `AWS_ENDPOINT_URL` or `AWS_ENDPOINT` is).
//! Storage options win over all of it. Profiles that get their credentials by running something
//! (`credential_process`, SSO, an assumed role) are refused with what to do instead.

use std::collections::HashMap;
use std::path::PathBuf;

/// The storage option naming the profile (rawarrow's own).
pub(crate) const AWS_PROFILE: &str = "aws_profile";

/// One section of an INI file: key → value.
type Section = HashMap<String, String>;

/// The sections of an AWS INI file, by name (`default`, `profile x`, `x`); a file that is not
/// there has none.
fn sections(path: &PathBuf) -> Result<HashMap<String, Section>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let mut out: HashMap<String, Section> = HashMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        // Indented lines continue a nested setting (`s3 =` followed by its own keys).
        if line.starts_with([' ', '\t']) {
            continue;
        }
        let line = line.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
            current = Some(name.clone());
            out.entry(name).or_default();
        } else if let (Some(name), Some((k, v))) = (&current, line.split_once('=')) {
            let section = out.entry(name.clone()).or_default();
            section.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    Ok(out)
}

/// The object_store settings the profile gives (as `aws_*` configuration keys), given the
/// environment `env` and the profile `chosen` by a storage option.
pub(crate) fn options(
    env: &dyn Fn(&str) -> Option<String>,
    chosen: Option<&str>,
) -> Result<Vec<(String, String)>, String> {
    let named = chosen.map(str::to_owned).or_else(|| env("AWS_PROFILE"));
    let profile = named.clone().unwrap_or_else(|| "default".into());
    let home = env("HOME").map(PathBuf::from);
    let file = |var: &str, name: &str| -> Option<PathBuf> {
        env(var)
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".aws").join(name)))
    };
    let credentials = match file("AWS_SHARED_CREDENTIALS_FILE", "credentials") {
        Some(p) => sections(&p)?,
        None => HashMap::new(),
    };
    let config = match file("AWS_CONFIG_FILE", "config") {
        Some(p) => sections(&p)?,
        None => HashMap::new(),
    };
    let in_config = if profile == "default" {
        config.get("default")
    } else {
        config.get(&format!("profile {profile}"))
    };
    let in_credentials = credentials.get(&profile);
    if in_config.is_none() && in_credentials.is_none() {
        return match named {
            Some(_) => Err(format!(
                "AWS profile {profile:?} is in neither the credentials nor the config file \
                 (~/.aws/credentials, ~/.aws/config, or AWS_SHARED_CREDENTIALS_FILE, \
                 AWS_CONFIG_FILE)"
            )),
            None => Ok(Vec::new()),
        };
    }
    // The credentials file first, as the AWS tools read them.
    let get = |key: &str| {
        in_credentials
            .and_then(|s| s.get(key))
            .or_else(|| in_config.and_then(|s| s.get(key)))
            .cloned()
    };
    let mut out = Vec::new();
    let set = |var: &str| env(var).is_some_and(|v| !v.is_empty());
    if !set("AWS_ACCESS_KEY_ID") {
        match (get("aws_access_key_id"), get("aws_secret_access_key")) {
            (Some(id), Some(secret)) => {
                out.push(("aws_access_key_id".into(), id));
                out.push(("aws_secret_access_key".into(), secret));
                if let Some(token) = get("aws_session_token") {
                    out.push(("aws_session_token".into(), token));
                }
            }
            _ => {
                let runs = [
                    "credential_process",
                    "sso_session",
                    "sso_start_url",
                    "role_arn",
                ];
                if let Some(key) = runs.iter().find(|k| get(k).is_some()) {
                    return Err(format!(
                        "AWS profile {profile:?} gets its credentials by {key}, which rawarrow \
                         does not run: export them (eval \"$(aws configure \
                         export-credentials --profile {profile} --format env)\") or pass \
                         aws_access_key_id and aws_secret_access_key as storage options"
                    ));
                }
            }
        }
    }
    if !set("AWS_REGION") && !set("AWS_DEFAULT_REGION") {
        if let Some(region) = get("region") {
            out.push(("aws_region".into(), region));
        }
    }
    if !set("AWS_ENDPOINT_URL") && !set("AWS_ENDPOINT") {
        if let Some(endpoint) = get("endpoint_url") {
            out.push(("aws_endpoint".into(), endpoint));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, String)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        move |k| vars.get(k).cloned()
    }

    fn home() -> tempfile::TempDir {
        let home = tempfile::tempdir().expect("home");
        std::fs::create_dir(home.path().join(".aws")).expect("mkdir");
        std::fs::write(
            home.path().join(".aws/credentials"),
            "# keys\n[default]\naws_access_key_id = AKDEFAULT\naws_secret_access_key = s1\n\n\
             [work]\naws_access_key_id=AKWORK\naws_secret_access_key=s2\naws_session_token=t2\n\
             [sso]\n",
        )
        .expect("credentials");
        std::fs::write(
            home.path().join(".aws/config"),
            "[default]\nregion = eu-west-1\n[profile  work]\nregion = us-east-2\n\
             endpoint_url = http://127.0.0.1:9000\ns3 =\n  addressing_style = path\n\
             [profile sso]\nsso_session = corp\n",
        )
        .expect("config");
        home
    }

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_profile_gives_what_the_environment_does_not() {
        let h = home();
        let home = ("HOME", h.path().display().to_string());
        let got = options(&env(std::slice::from_ref(&home)), None).expect("default");
        let want = [
            ("aws_access_key_id", "AKDEFAULT"),
            ("aws_secret_access_key", "s1"),
            ("aws_region", "eu-west-1"),
        ];
        assert_eq!(got, pairs(&want));
        let work = ("AWS_PROFILE", "work".to_string());
        let got = options(&env(&[home.clone(), work.clone()]), None).expect("work");
        let want = [
            ("aws_access_key_id", "AKWORK"),
            ("aws_secret_access_key", "s2"),
            ("aws_session_token", "t2"),
            ("aws_region", "us-east-2"),
            ("aws_endpoint", "http://127.0.0.1:9000"),
        ];
        assert_eq!(got, pairs(&want));
        // The option names the profile over AWS_PROFILE; keys and region in the environment
        // win over the profile's.
        let vars = [
            home.clone(),
            ("AWS_ACCESS_KEY_ID", "AKENV".into()),
            ("AWS_REGION", "ap-south-1".into()),
        ];
        let got = options(&env(&vars), Some("work")).expect("work");
        assert_eq!(got, pairs(&[("aws_endpoint", "http://127.0.0.1:9000")]));
        // Files named by the environment.
        let moved = tempfile::tempdir().expect("dir");
        std::fs::copy(h.path().join(".aws/config"), moved.path().join("c")).expect("copy");
        let vars = [(
            "AWS_CONFIG_FILE",
            moved.path().join("c").display().to_string(),
        )];
        let got = options(&env(&vars), Some("work")).expect("work");
        let want = [
            ("aws_region", "us-east-2"),
            ("aws_endpoint", "http://127.0.0.1:9000"),
        ];
        assert_eq!(got, pairs(&want));
    }

    #[test]
    fn a_missing_or_unrunnable_profile_is_an_error_and_no_files_are_nothing() {
        let h = home();
        let home = ("HOME", h.path().display().to_string());
        let e = options(&env(std::slice::from_ref(&home)), Some("nope")).expect_err("missing");
        assert!(e.contains("\"nope\" is in neither"), "{e}");
        let e = options(&env(&[home]), Some("sso")).expect_err("sso");
        assert!(
            e.contains("by sso_session") && e.contains("export-credentials"),
            "{e}"
        );
        let empty = tempfile::tempdir().expect("dir");
        let none = [("HOME", empty.path().display().to_string())];
        assert_eq!(options(&env(&none), None), Ok(Vec::new()));
        assert!(options(&env(&none), Some("work")).is_err());
    }
}
