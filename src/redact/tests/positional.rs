//! Shapes a fourth generated corpus found: credentials passed by position
//! to client APIs (`calls.rs`), Redis ACL rules, property lists, values a
//! debugger prints, and the references and ciphertexts that must stay.

use super::redacted;

#[test]
fn passwords_passed_by_position_are_redacted() {
    let cases = [
        (
            "    s.login(\"alerts@acme.io\", \"gvmmX^^OzJpyzR6Hu\")",
            "gvmmX^^OzJpyzR6Hu",
        ),
        (
            "credentials = pika.PlainCredentials(\"orders\", \"Ridge_Cedar6725_\")",
            "Ridge_Cedar6725_",
        ),
        (
            "new UsernamePasswordCredentials(\"elastic\", \"u+bK-MmqbfT9S^*m4g*NMQLw9\")",
            "u+bK-MmqbfT9S^*m4g*NMQLw9",
        ),
        (
            "Credentials = new NetworkCredential(\"alerts@acme.io\", \"Granite.Delta3187.\")",
            "Granite.Delta3187.",
        ),
        (
            "conn = DriverManager.getConnection(url, \"shop_rw\", \"Xq9!vLm2pR7wT\");",
            "Xq9!vLm2pR7wT",
        ),
        (
            "auth := smtp.PlainAuth(\"\", \"alerts@acme.io\", \"Iris.Compass5976.\", \"smtp.acme.io\")",
            "Iris.Compass5976.",
        ),
        (
            "let creds = Credentials::new(\"alerts@acme.io\".to_owned(), \"Echo_Anchor7665*\".to_owned());",
            "Echo_Anchor7665*",
        ),
        (
            "admin> db.changeUserPassword(\"reporting\", \"mdaMAA0J8+DLjOsS2hqCOg*\")",
            "mdaMAA0J8+DLjOsS2hqCOg*",
        ),
        (
            "$pdo = new PDO('mysql:host=10.0.0.7;dbname=shop', 'shop_rw', '!fGHEwrNsVzFIH2xt0icz', []);",
            "!fGHEwrNsVzFIH2xt0icz",
        ),
        (
            "127.0.0.1:6379> ACL SETUSER worker on >9QxIvsUoe0FQlzCkZt5qtF8GtzxU9nS ~jobs:* +@list",
            "9QxIvsUoe0FQlzCkZt5qtF8GtzxU9nS",
        ),
        ("user app on >Tq8#mL2vX9pR ~app:* +@all", "Tq8#mL2vX9pR"),
        (
            "<key>StripeSecretKey</key>\n\t<string>FKvM8XK9AKmuDzVNzE3VSNCqCrNTiOcQ</string>",
            "FKvM8XK9AKmuDzVNzE3VSNCqCrNTiOcQ",
        ),
        (
            "<key>APISecret</key><string>uhp4dDXcCR2aBoch1GBFIXMXDmijAcOI</string>",
            "uhp4dDXcCR2aBoch1GBFIXMXDmijAcOI",
        ),
        (
            "(Pdb) p client.client_secret\n'RsF9mhkIG6tkuwxgLjakW1Gk2WrZbqtZSgfVr4Yq'",
            "RsF9mhkIG6tkuwxgLjakW1Gk2WrZbqtZSgfVr4Yq",
        ),
        // Service configs and tools.
        (
            "  [\"password\"]=>\n  string(26) \"*Uz3UeT^KOq!B0QWWxINGqOevG\"",
            "*Uz3UeT^KOq!B0QWWxINGqOevG",
        ),
        (
            "Unseal Key 1: 4QJ/iMynYDrTEL9GgM02OlXVHnrWDp3cnV3YHu9C29PJ",
            "4QJ/iMynYDrTEL9GgM02OlXVHnrWDp3cnV3YHu9C29PJ",
        ),
        (
            "systemProp.https.proxyPassword=OJmLng.~HoC~W87e",
            "OJmLng.~HoC~W87e",
        ),
        (
            "    authentication {\n        auth_type PASS\n        auth_pass Gl5RAKxd\n    }",
            "Gl5RAKxd",
        ),
        ("jdoe : EAP \"cTsM%uQ!uTIJ*1\"", "cTsM%uQ!uTIJ*1"),
        (
            "$ printf '+m8c-RH~0mQ2HyG' | docker secret create postgres_password -",
            "+m8c-RH~0mQ2HyG",
        ),
        (
            "apprise -b \"done\" \"slack://TJTC5FIKFRA/BDDGGP1DJ39/4kalBs7ZYu9OtQWzpa1ResI1/#deploys\"",
            "4kalBs7ZYu9OtQWzpa1ResI1",
        ),
        (
            "apprise \"discord://8961469187839878209/jSyD4FSusP9WlJR8GWt-DhnA_UX6AxZx7L82BLKoyubRQbXYu3I2HjIaiFnQ1P4zOkVB\"",
            "jSyD4FSusP9WlJR8GWt-DhnA_UX6AxZx7L82BLKoyubRQbXYu3I2HjIaiFnQ1P4zOkVB",
        ),
    ];
    for (text, secret) in cases {
        let out = redacted(text);
        assert!(!out.contains(secret), "{out}");
    }
    // The user named first stays, by position and by the keyword rules.
    for (text, user) in [
        (
            "new UsernamePasswordCredentials(\"elastic\", \"u+bK-MmqbfT9S^*m4g*NMQLw9\")",
            "\"elastic\"",
        ),
        (
            "db.changeUserPassword(\"reporting\", \"mdaMAA0J8+DLjOsS2hqCOg*\")",
            "\"reporting\"",
        ),
    ] {
        assert!(redacted(text).contains(user), "{}", redacted(text));
    }
    // A setter on an object named `user` still takes the password first.
    assert!(!redacted("user.setPassword(\"Xk9#mP2vL8qR4t\")").contains("Xk9#mP2vL8qR4t"));
}

#[test]
fn references_placeholders_and_ciphertexts_stay() {
    for text in [
        "s.login(user, password)",
        "client.login(\"alice\", \"password\")",
        "conn = DriverManager.getConnection(url, user, pass);",
        "smtp.PlainAuth(\"\", \"me\", os.Getenv(\"SMTP_PASSWORD\"), host)",
        "new NetworkCredential(\"alerts@acme.io\", passwordFromVault)",
        "ACL SETUSER reader on >${REDIS_PASSWORD} ~* +@read",
        "<key>KeychainGroup</key>\n\t<string>com.acme.shared</string>",
        "(Pdb) p client.name\n'billing-service'",
        "    password: '{cipher}a0e4a65b9f3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5'",
        "  password: System.fetch_env!(\"DB_PASSWORD\"),",
        "apprise \"slack://TokenA/TokenB/TokenC/#channel\"",
        "systemProp.https.proxyHost=proxy.corp.local",
        "    auth_type PASS",
        "  [\"dbname\"]=>\n  string(4) \"shop\"",
        "Unseal Key Shares: 5",
        "$ docker secret create postgres_password ./password.txt",
    ] {
        assert_eq!(redacted(text), text);
    }
}
