use super::*;

const MARIADB: Server = Server {
    mariadb: true,
    version: (10, 11, 9),
};
const MYSQL8: Server = Server {
    mariadb: false,
    version: (8, 0, 36),
};
const MYSQL57: Server = Server {
    mariadb: false,
    version: (5, 7, 44),
};

fn row(host: &str, plugin: &str) -> AccountRow {
    AccountRow {
        host: host.into(),
        plugin: plugin.into(),
        ssl_type: String::new(),
        ssl_cipher: String::new(),
        x509_issuer: String::new(),
        x509_subject: String::new(),
    }
}

#[test]
fn versions_decide_the_engine_and_the_name_limit() {
    assert_eq!(Server::from_version((10, 11, 9)), MARIADB);
    assert_eq!(Server::from_version((11, 4, 2)).name(), "MariaDB 11.4.2");
    assert_eq!(Server::from_version((8, 4, 0)).name(), "MySQL 8.4.0");
    assert!(!Server::from_version((9, 1, 0)).mariadb);
    assert_eq!(MARIADB.name_limit(), 80);
    assert_eq!(MYSQL8.name_limit(), 32);
    assert_eq!(MYSQL57.name_limit(), 32);
    assert_eq!(Server::from_version((5, 6, 51)).name_limit(), 16);
}

#[test]
fn literals_escape_quotes_backslashes_and_nul() {
    assert_eq!(literal("app"), "'app'");
    assert_eq!(literal("o'neil"), "'o\\'neil'");
    assert_eq!(literal("back\\slash"), "'back\\\\slash'");
    assert_eq!(literal("a\0b"), "'a\\0b'");
    assert_eq!(literal("100%_é \"q\""), "'100%_é \"q\"'");
    assert_eq!(
        literal("x'); DROP USER root; --"),
        "'x\\'); DROP USER root; --'"
    );
    assert_eq!(account("app", "10.0.%"), "'app'@'10.0.%'");
}

#[test]
fn own_password_changes_never_use_password_where_it_is_gone() {
    let new = SecretText::new("n'ew");
    assert_eq!(
        set_own_password(&MARIADB, &new, None),
        "SET PASSWORD = PASSWORD('n\\'ew')"
    );
    assert_eq!(
        set_own_password(&MYSQL8, &new, None),
        "ALTER USER CURRENT_USER() IDENTIFIED BY 'n\\'ew'"
    );
    assert_eq!(
        set_own_password(&MYSQL8, &new, Some(&SecretText::new("old\\"))),
        "ALTER USER CURRENT_USER() IDENTIFIED BY 'n\\'ew' REPLACE 'old\\\\'"
    );
    assert_eq!(
        set_own_password(&MYSQL57, &new, None),
        "ALTER USER CURRENT_USER() IDENTIFIED BY 'n\\'ew'"
    );
    assert_eq!(
        set_own_password(&Server::from_version((5, 7, 5)), &new, None),
        "SET PASSWORD = PASSWORD('n\\'ew')"
    );
    for server in [MYSQL8, Server::from_version((9, 0, 1))] {
        assert!(!set_own_password(&server, &new, None).contains("PASSWORD("));
        assert!(!set_password(&server, "a", "%", &new).contains("PASSWORD("));
    }
}

#[test]
fn another_accounts_password_keeps_its_host_and_plugin() {
    let new = SecretText::new("pw");
    assert_eq!(
        set_password(&MARIADB, "app", "10.%", &new),
        "SET PASSWORD FOR 'app'@'10.%' = PASSWORD('pw')"
    );
    assert_eq!(
        set_password(&MYSQL8, "app", "localhost", &new),
        "ALTER USER 'app'@'localhost' IDENTIFIED BY 'pw'"
    );
}

#[test]
fn the_clone_is_created_like_the_original() {
    let pw = SecretText::new("pw");
    assert_eq!(
        create_clone(
            &MARIADB,
            "app_clone",
            &row("10.%", "mysql_native_password"),
            &pw
        )
        .unwrap(),
        "CREATE USER 'app_clone'@'10.%' IDENTIFIED BY 'pw' REQUIRE NONE"
    );
    assert_eq!(
        create_clone(&MARIADB, "app_clone", &row("%", "ed25519"), &pw).unwrap(),
        "CREATE USER 'app_clone'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('pw') REQUIRE NONE"
    );
    let mut tls = row("%", "caching_sha2_password");
    tls.ssl_type = "ANY".into();
    assert_eq!(
        create_clone(&MYSQL8, "app_clone", &tls, &pw).unwrap(),
        "CREATE USER 'app_clone'@'%' IDENTIFIED WITH caching_sha2_password BY 'pw' REQUIRE SSL"
    );
    assert_eq!(
        create_clone(&MARIADB, "c", &row("%", "unix_socket"), &pw),
        Err(CopyError::Plugin {
            plugin: "unix_socket".into()
        })
    );
    assert!(create_clone(&MYSQL8, "c", &row("%", "AWSAuthenticationPlugin"), &pw).is_err());
}

#[test]
fn tls_requirements_are_copied_in_full() {
    let mut r = row("%", "");
    assert_eq!(requirement(&r), "REQUIRE NONE");
    r.ssl_type = "X509".into();
    assert_eq!(requirement(&r), "REQUIRE X509");
    r.ssl_type = "SPECIFIED".into();
    r.x509_issuer = "/CN=Corp CA".into();
    r.x509_subject = "/CN=o'app".into();
    assert_eq!(
        requirement(&r),
        "REQUIRE ISSUER '/CN=Corp CA' AND SUBJECT '/CN=o\\'app'"
    );
    r.ssl_cipher = "ECDHE-RSA-AES256-GCM-SHA384".into();
    assert!(requirement(&r).starts_with("REQUIRE CIPHER 'ECDHE-RSA-AES256-GCM-SHA384' AND ISSUER"));
}

#[test]
fn grants_are_rewritten_for_the_clone_with_their_options() {
    let lines: Vec<String> = [
        "GRANT USAGE ON *.* TO `app`@`10.%` IDENTIFIED BY PASSWORD '*0123456789ABCDEF'",
        "GRANT SELECT, INSERT ON `shop`.* TO `app`@`10.%` WITH GRANT OPTION",
        "GRANT SELECT (`id`, `name`) ON `shop`.`t` TO `app`@`10.%`",
        "GRANT `reporting` TO `app`@`10.%` WITH ADMIN OPTION",
        "GRANT USAGE ON *.* TO `app`@`10.%` REQUIRE SSL WITH GRANT OPTION MAX_QUERIES_PER_HOUR 5",
        "SET DEFAULT ROLE `reporting` FOR `app`@`10.%`",
        "REVOKE INSERT ON `mysql`.* FROM `app`@`10.%`",
    ]
    .map(String::from)
    .to_vec();
    let copied = grants_for_clone(&lines, ("app", "10.%"), ("app_clone", "10.%")).unwrap();
    assert_eq!(
        copied,
        [
            "GRANT USAGE ON *.* TO 'app_clone'@'10.%'",
            "GRANT SELECT, INSERT ON `shop`.* TO 'app_clone'@'10.%' WITH GRANT OPTION",
            "GRANT SELECT (`id`, `name`) ON `shop`.`t` TO 'app_clone'@'10.%'",
            "GRANT `reporting` TO 'app_clone'@'10.%' WITH ADMIN OPTION",
            "GRANT USAGE ON *.* TO 'app_clone'@'10.%' WITH GRANT OPTION",
            "SET DEFAULT ROLE `reporting` FOR 'app_clone'@'10.%'",
            "REVOKE INSERT ON `mysql`.* FROM 'app_clone'@'10.%'",
        ]
    );
    assert!(copied.iter().all(|l| !l.contains("*0123456789ABCDEF")));
}

#[test]
fn hostile_names_are_found_as_printed_and_written_as_literals() {
    // A name that itself holds " TO " and quotes: the grantee is the printed account at the end.
    let user = "we`ird TO `x`@`%` o'k";
    let line = "GRANT SELECT ON `db`.* TO `we``ird TO ``x``@``%`` o'k`@`%`".to_owned();
    let copied = grants_for_clone(&[line], (user, "%"), ("c'l\\one", "%")).unwrap();
    assert_eq!(copied, ["GRANT SELECT ON `db`.* TO 'c\\'l\\\\one'@'%'"]);
    // A database named like a grantee does not confuse it either.
    let line = "GRANT ALL PRIVILEGES ON `x TO ``app``@``%```.* TO `app`@`%`".to_owned();
    assert_eq!(
        grants_for_clone(&[line], ("app", "%"), ("app_clone", "%")).unwrap(),
        ["GRANT ALL PRIVILEGES ON `x TO ``app``@``%```.* TO 'app_clone'@'%'"]
    );
}

#[test]
fn lines_that_cannot_be_copied_stop_the_copy() {
    for line in [
        "CREATE USER `app`@`%`",
        "GRANT SELECT ON `db`.* TO `other`@`%`",
    ] {
        assert!(matches!(
            grants_for_clone(&[line.to_owned()], ("app", "%"), ("c", "%")),
            Err(CopyError::Grant { .. })
        ));
    }
}

#[test]
fn mysql_default_roles_are_set_on_the_clone() {
    assert_eq!(set_default_roles(&[], ("c", "%")), None);
    assert_eq!(
        set_default_roles(
            &[("r1".into(), "%".into()), ("r2".into(), "localhost".into())],
            ("app_clone", "%")
        )
        .as_deref(),
        Some("SET DEFAULT ROLE 'r1'@'%', 'r2'@'localhost' TO 'app_clone'@'%'")
    );
    assert_eq!(
        default_roles("app", "%"),
        "SELECT DEFAULT_ROLE_USER, DEFAULT_ROLE_HOST FROM mysql.default_roles WHERE USER = 'app' AND HOST = '%'"
    );
}
