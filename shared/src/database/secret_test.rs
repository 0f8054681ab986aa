use super::*;
use serde_json::json;

fn secret(value: Value) -> Result<DbSecret, SecretError> {
    DbSecret::parse(&SecretText::new(value.to_string()), EngineFamily::Postgres)
}

fn mysql(value: Value) -> Result<DbSecret, SecretError> {
    DbSecret::parse(&SecretText::new(value.to_string()), EngineFamily::MySql)
}

fn base() -> Value {
    json!({"engine": "postgres", "host": "db.internal", "port": 5432, "username": "app", "password": "pw", "dbname": "shop", "note": "kept"})
}

#[test]
fn parses_the_rds_convention() {
    let s = secret(base()).unwrap();
    assert_eq!(
        (
            s.engine,
            s.host.as_str(),
            s.port,
            s.username.as_str(),
            s.dbname.as_deref(),
            s.tls
        ),
        (
            Engine::Postgres,
            "db.internal",
            5432,
            "app",
            Some("shop"),
            SecretTls::Default
        )
    );
    assert_eq!(s.password.expose(), "pw");
    let mut v = base();
    v["port"] = json!("6543");
    v["ssl"] = json!(false);
    v["masterarn"] = json!("arn:aws:secretsmanager:us-east-1:1:secret:master");
    v.as_object_mut().unwrap().remove("dbname");
    let s = secret(v).unwrap();
    assert_eq!((s.port, s.tls, s.dbname), (6543, SecretTls::Disabled, None));
    assert!(s.master_arn.is_some());
}

#[test]
fn each_family_takes_its_engines_and_default_port() {
    for (name, engine) in [
        ("mysql", Engine::MySql),
        ("aurora-mysql", Engine::MySql),
        ("mariadb", Engine::MariaDb),
    ] {
        let mut v = base();
        v["engine"] = json!(name);
        v.as_object_mut().unwrap().remove("port");
        let s = mysql(v).unwrap();
        assert_eq!((s.engine, s.port), (engine, 3306), "{name}");
    }
    let mut v = base();
    v.as_object_mut().unwrap().remove("port");
    assert_eq!(secret(v.clone()).unwrap().port, 5432);
    assert_eq!(
        mysql(v).unwrap_err(),
        SecretError::WrongEngine {
            found: "postgres".into(),
            expected: "mysql, aurora-mysql or mariadb"
        }
    );
}

#[test]
fn bad_secrets_name_the_problem_without_the_password() {
    assert!(matches!(
        DbSecret::parse(&SecretText::new("not json"), EngineFamily::Postgres),
        Err(SecretError::NotJson(_))
    ));
    for (field, value, expected) in [
        (
            "engine",
            json!("mysql"),
            SecretError::WrongEngine {
                found: "mysql".into(),
                expected: "postgres, postgresql or aurora-postgresql",
            },
        ),
        ("port", json!("http"), SecretError::BadPort("http".into())),
        ("port", json!(70000), SecretError::BadPort("70000".into())),
        ("port", json!(0), SecretError::BadPort("0".into())),
        (
            "ssl",
            json!("maybe"),
            SecretError::BadSsl("\"maybe\"".into()),
        ),
        ("host", json!(""), SecretError::Missing("host")),
        (
            "username",
            json!("app\u{0}x"),
            SecretError::BadName {
                name: "app\u{0}x".into(),
            },
        ),
    ] {
        let mut v = base();
        v[field] = value;
        let error = secret(v).unwrap_err();
        assert_eq!(error, expected);
        assert!(!error.to_string().contains("\"pw\""));
    }
    for field in ["password", "engine", "username"] {
        let mut v = base();
        v.as_object_mut().unwrap().remove(field);
        assert_eq!(secret(v).unwrap_err(), SecretError::Missing(field));
    }
}

#[test]
fn a_master_secret_managed_by_rds_takes_the_rest_from_the_user() {
    let user = secret(base()).unwrap();
    let managed = SecretText::new(json!({"username": "admin", "password": "m"}).to_string());
    let master = DbSecret::parse_master(&managed, &user, EngineFamily::Postgres).unwrap();
    assert_eq!(
        (
            master.engine,
            master.host.as_str(),
            master.port,
            master.username.as_str(),
            master.dbname.as_deref()
        ),
        (Engine::Postgres, "db.internal", 5432, "admin", Some("shop"))
    );
    let full = SecretText::new(
        json!({"engine": "postgres", "host": "primary.internal", "port": 6000, "username": "admin", "password": "m", "dbname": "other"}).to_string(),
    );
    let master = DbSecret::parse_master(&full, &user, EngineFamily::Postgres).unwrap();
    assert_eq!(
        (master.host.as_str(), master.port, master.dbname.as_deref()),
        ("primary.internal", 6000, Some("shop"))
    );
    let wrong =
        SecretText::new(json!({"engine": "mariadb", "username": "a", "password": "m"}).to_string());
    assert!(matches!(
        DbSecret::parse_master(&wrong, &user, EngineFamily::Postgres),
        Err(SecretError::WrongEngine { .. })
    ));
    let no_password = SecretText::new(json!({"username": "admin"}).to_string());
    assert_eq!(
        DbSecret::parse_master(&no_password, &user, EngineFamily::Postgres).unwrap_err(),
        SecretError::Missing("password")
    );
}

#[test]
fn a_new_login_keeps_every_other_field() {
    let s = secret(base()).unwrap();
    let next = DbSecret::parse(
        &s.with_login("app_clone", &SecretText::new("new")),
        EngineFamily::Postgres,
    )
    .unwrap();
    assert_eq!(
        (
            next.username.as_str(),
            next.password.expose(),
            next.host.as_str()
        ),
        ("app_clone", "new", "db.internal")
    );
    assert_eq!(next.fields["note"], "kept");
}

#[test]
fn the_target_may_not_change_between_current_and_pending() {
    let current = secret(base()).unwrap();
    let mut moved = base();
    moved["host"] = json!("evil.example.com");
    let error = current
        .check_same_target(&secret(moved).unwrap(), true)
        .unwrap_err();
    assert_eq!(
        error,
        SecretError::Changed {
            field: "host",
            current: "db.internal".into(),
            pending: "evil.example.com".into()
        }
    );
    let mut other_db = base();
    other_db.as_object_mut().unwrap().remove("dbname");
    assert!(matches!(
        current.check_same_target(&secret(other_db).unwrap(), true),
        Err(SecretError::Changed {
            field: "dbname",
            ..
        })
    ));
    let mut renamed = base();
    renamed["username"] = json!("admin");
    assert!(matches!(
        current.check_same_target(&secret(renamed.clone()).unwrap(), true),
        Err(SecretError::Changed {
            field: "username",
            ..
        })
    ));
    assert_eq!(
        current.check_same_target(&secret(renamed).unwrap(), false),
        Ok(())
    );
}

#[test]
fn users_alternate_within_each_engines_limit() {
    let postgres = Engine::Postgres.name_limit();
    assert_eq!(alternate_user("app", postgres).unwrap(), "app_clone");
    assert_eq!(alternate_user("app_clone", postgres).unwrap(), "app");
    assert_eq!(alternate_user("_clone", postgres).unwrap(), "_clone_clone");
    assert_eq!(alternate_user(&"a".repeat(57), postgres).unwrap().len(), 63);
    assert!(matches!(
        alternate_user(&"a".repeat(58), postgres),
        Err(SecretError::NameTooLong { .. })
    ));
    // PostgreSQL counts bytes: "é" is two.
    assert!(matches!(
        alternate_user(&"é".repeat(29), postgres),
        Err(SecretError::NameTooLong { .. })
    ));
    // MySQL and MariaDB count characters.
    let mysql = Engine::MySql.name_limit();
    assert_eq!(
        alternate_user(&"é".repeat(26), mysql)
            .unwrap()
            .chars()
            .count(),
        32
    );
    let error = alternate_user(&"a".repeat(27), mysql).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "the alternate user name \"{}_clone\" is longer than MySQL's limit of 32 characters for user names",
            "a".repeat(27)
        )
    );
    let mariadb = Engine::MariaDb.name_limit();
    assert!(alternate_user(&"a".repeat(74), mariadb).is_ok());
    assert!(alternate_user(&"a".repeat(75), mariadb).is_err());
    assert_eq!(base_user("app_clone"), "app");
    assert_eq!(base_user("app"), "app");
}
