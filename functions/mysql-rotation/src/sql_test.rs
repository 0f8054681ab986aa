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

const NATIVE_PASSWORD: &str = "password";
const NATIVE_HASH: &str = "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19";
const ED25519_PASSWORD: &str = "secret";
const ED25519_KEY: &str = "ZIgUREUg5PVgQ6LskhXmO+eZLS0nC8be6HPjYWR4YJY";

/// A statement that would put the password itself where the server logs it.
fn assert_no_password(statement: &str, password: &str) {
    assert!(!statement.contains(password), "{statement}");
}

#[test]
fn mariadb_receives_only_the_stored_form_of_its_own_new_password() {
    let native = SecretText::new(NATIVE_PASSWORD);
    let ed = SecretText::new(ED25519_PASSWORD);
    for plugin in ["mysql_native_password", ""] {
        let statement = set_own_password(&MARIADB, plugin, &native, None).unwrap();
        assert_eq!(statement, format!("SET PASSWORD = '{NATIVE_HASH}'"));
        assert_no_password(&statement, NATIVE_PASSWORD);
    }
    let statement = set_own_password(&MARIADB, "ed25519", &ed, None).unwrap();
    assert_eq!(statement, format!("SET PASSWORD = '{ED25519_KEY}'"));
    assert_no_password(&statement, ED25519_PASSWORD);
    for plugin in ["parsec", "unix_socket", "pam", "caching_sha2_password"] {
        assert_eq!(
            set_own_password(&MARIADB, plugin, &native, None),
            Err(CopyError::Plugin {
                plugin: plugin.into()
            }),
            "{plugin}"
        );
    }
}

#[test]
fn mysql_changes_its_own_password_in_the_one_form_it_allows_and_rewrites() {
    let new = SecretText::new("n'ew");
    assert_eq!(
        set_own_password(&MYSQL8, "", &new, None).unwrap(),
        "ALTER USER CURRENT_USER() IDENTIFIED BY 'n\\'ew'"
    );
    assert_eq!(
        set_own_password(&MYSQL8, "", &new, Some(&SecretText::new("old\\"))).unwrap(),
        "ALTER USER CURRENT_USER() IDENTIFIED BY 'n\\'ew' REPLACE 'old\\\\'"
    );
    assert_eq!(
        set_own_password(&MYSQL57, "", &new, None).unwrap(),
        "ALTER USER CURRENT_USER() IDENTIFIED BY 'n\\'ew'"
    );
    assert_eq!(
        set_own_password(&Server::from_version((5, 7, 5)), "", &new, None).unwrap(),
        "SET PASSWORD = PASSWORD('n\\'ew')"
    );
    for server in [MYSQL8, Server::from_version((9, 0, 1))] {
        assert!(!set_own_password(&server, "", &new, None)
            .unwrap()
            .contains("PASSWORD("));
    }
}

#[test]
fn another_accounts_password_is_sent_as_its_hash_keeping_host_and_plugin() {
    let native = SecretText::new(NATIVE_PASSWORD);
    let ed = SecretText::new(ED25519_PASSWORD);
    assert_eq!(
        set_password(&MARIADB, "app", "10.%", "mysql_native_password", &native).unwrap(),
        format!("ALTER USER 'app'@'10.%' IDENTIFIED BY PASSWORD '{NATIVE_HASH}'")
    );
    assert_eq!(
        set_password(&MARIADB, "app", "%", "ed25519", &ed).unwrap(),
        format!("ALTER USER 'app'@'%' IDENTIFIED VIA ed25519 USING '{ED25519_KEY}'")
    );
    for server in [MYSQL8, MYSQL57] {
        assert_eq!(
            set_password(&server, "app", "localhost", "mysql_native_password", &native).unwrap(),
            format!(
                "ALTER USER 'app'@'localhost' IDENTIFIED WITH mysql_native_password AS '{NATIVE_HASH}'"
            )
        );
    }
    // MySQL computes these salted hashes itself and rewrites the statement in its logs.
    assert_eq!(
        set_password(&MYSQL8, "app", "%", "caching_sha2_password", &native).unwrap(),
        "ALTER USER 'app'@'%' IDENTIFIED WITH caching_sha2_password BY 'password'"
    );
    let old = Server::from_version((5, 6, 51));
    assert_eq!(
        set_password(&old, "app", "%", "mysql_native_password", &native).unwrap(),
        format!("SET PASSWORD FOR 'app'@'%' = '{NATIVE_HASH}'")
    );
    assert!(set_password(&old, "app", "%", "sha256_password", &native).is_err());
    for plugin in ["parsec", "caching_sha2_password", "unix_socket"] {
        assert!(
            set_password(&MARIADB, "app", "%", plugin, &native).is_err(),
            "{plugin}"
        );
    }
}

#[test]
fn the_accounts_plugin_is_read_from_show_create_user() {
    let cases = [
        (
            format!("CREATE USER `app`@`%` IDENTIFIED BY PASSWORD '{NATIVE_HASH}'"),
            "mysql_native_password",
        ),
        (
            format!("CREATE USER `ed`@`%` IDENTIFIED VIA ed25519 USING '{ED25519_KEY}' REQUIRE SSL"),
            "ed25519",
        ),
        ("CREATE USER `nopw`@`localhost`".to_owned(), "mysql_native_password"),
        (
            "CREATE USER `x`@`%` IDENTIFIED WITH 'caching_sha2_password' AS '<secret>' REQUIRE NONE"
                .to_owned(),
            "caching_sha2_password",
        ),
        // Names that hold what the parser looks for.
        (
            "CREATE USER `a`` IDENTIFIED VIA pam`@`%` IDENTIFIED VIA parsec USING 'P0:x'".to_owned(),
            "parsec",
        ),
        (
            "CREATE USER 'o\\'reilly IDENTIFIED BY PASSWORD'@'%' IDENTIFIED VIA ed25519 USING 'k'"
                .to_owned(),
            "ed25519",
        ),
    ];
    for (line, plugin) in cases {
        assert_eq!(plugin_of(&line).unwrap(), plugin, "{line}");
    }
    assert_eq!(
        plugin_of(&format!(
            "CREATE USER `ed`@`%` IDENTIFIED VIA ed25519 USING '{ED25519_KEY}' OR unix_socket"
        )),
        Err(CopyError::Plugin {
            plugin: "ed25519 OR ...".into()
        })
    );
    for unreadable in [
        "",
        "CREATE USER app@%",
        "CREATE USER `unterminated@`%`",
        "CREATE USER `a`@`%` IDENTIFIED SOMEHOW",
    ] {
        assert!(
            matches!(plugin_of(unreadable), Err(CopyError::CreateUser { .. })),
            "{unreadable}"
        );
    }
    let long = format!("CREATE USER {}", "x".repeat(10_000));
    match plugin_of(&long) {
        Err(error) => assert!(error.to_string().len() < 200, "bounded"),
        Ok(plugin) => panic!("read {plugin}"),
    }
}

#[test]
fn the_clone_is_created_like_the_original_from_the_hash() {
    let native = SecretText::new(NATIVE_PASSWORD);
    let ed = SecretText::new(ED25519_PASSWORD);
    assert_eq!(
        create_clone(
            &MARIADB,
            "app_clone",
            &row("10.%", "mysql_native_password"),
            &native
        )
        .unwrap(),
        format!(
            "CREATE USER 'app_clone'@'10.%' IDENTIFIED BY PASSWORD '{NATIVE_HASH}' REQUIRE NONE"
        )
    );
    assert_eq!(
        create_clone(&MARIADB, "app_clone", &row("%", "ed25519"), &ed).unwrap(),
        format!(
            "CREATE USER 'app_clone'@'%' IDENTIFIED VIA ed25519 USING '{ED25519_KEY}' REQUIRE NONE"
        )
    );
    assert_eq!(
        create_clone(&MYSQL8, "app_clone", &row("%", "mysql_native_password"), &native).unwrap(),
        format!(
            "CREATE USER 'app_clone'@'%' IDENTIFIED WITH mysql_native_password AS '{NATIVE_HASH}' REQUIRE NONE"
        )
    );
    let mut tls = row("%", "caching_sha2_password");
    tls.ssl_type = "ANY".into();
    assert_eq!(
        create_clone(&MYSQL8, "app_clone", &tls, &native).unwrap(),
        "CREATE USER 'app_clone'@'%' IDENTIFIED WITH caching_sha2_password BY 'password' REQUIRE SSL"
    );
    for (server, plugin) in [
        (MARIADB, "unix_socket"),
        (MARIADB, "parsec"),
        (MYSQL8, "AWSAuthenticationPlugin"),
        (MYSQL8, "ed25519"),
    ] {
        assert_eq!(
            create_clone(&server, "c", &row("%", plugin), &native),
            Err(CopyError::Plugin {
                plugin: plugin.into()
            })
        );
    }
    let message = create_clone(&MARIADB, "c", &row("%", "parsec"), &native)
        .unwrap_err()
        .to_string();
    assert!(message.contains("\"parsec\""), "{message}");
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
