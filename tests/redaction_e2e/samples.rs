//! Fresh random samples of each class of secret from issue 11, generated
//! per run (so no list of known values can let them through), each with the
//! exact secrets that must not survive.

use crate::util::{ALNUM, random_from, random_hex};

/// One text and the secrets in it.
pub struct ClassSample {
    pub text: String,
    pub secrets: Vec<String>,
}

const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
const DIGITS: &str = "0123456789";
const B64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64URL: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
/// Letters and digits without `p`/`P`/`x`: random passwords that can never
/// spell `pass`, `pwd` or `xxxx` by chance.
const PW: &str = "ABCDEFGHJKLMNQRSTUVWYZabcdefghijkmnoqrstuvwyz23456789";
/// The lower-case letters of [`PW`].
const PW_LOWER: &str = "abcdefghijkmnoqrstuvwyz";

/// `n` random alphanumerics holding an upper, a lower and a digit; the rest
/// from [`PW`], so no draw reads as a placeholder (`xxxx`, mostly digits).
fn tok(n: usize) -> String {
    format!(
        "{}{}{}{}",
        random_from(UPPER, 1),
        random_from(DIGITS, 1),
        random_from(LOWER, 1),
        random_from(PW, n - 3)
    )
}

/// A password with letters, digits and a symbol.
fn pw() -> String {
    format!("Q{}!{}7", random_from(PW, 6), random_from(PW, 5))
}

/// Standard base64 with padding.
fn b64(bytes: &[u8]) -> String {
    let a = B64.as_bytes();
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for k in 0..4 {
            if k <= c.len() {
                out.push(char::from(a[((n >> (18 - 6 * k)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn b64url_nopad(bytes: &[u8]) -> String {
    b64(bytes)
        .trim_end_matches('=')
        .replace('+', "-")
        .replace('/', "_")
}

fn sample(text: String, secrets: &[&str]) -> ClassSample {
    ClassSample {
        text,
        secrets: secrets.iter().map(|s| s.to_string()).collect(),
    }
}

/// A JWT with a random subject and signature.
fn jwt() -> String {
    let header = b64url_nopad(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = b64url_nopad(
        format!(
            r#"{{"sub":"user-{}","sid":"{}","iat":1716000000}}"#,
            tok(8),
            tok(20)
        )
        .as_bytes(),
    );
    format!("{header}.{payload}.{}", random_from(B64URL, 43))
}

/// The samples of `class`.
pub fn of(class: &str) -> Vec<ClassSample> {
    match class {
        "kubeconfig" => {
            let body: Vec<String> = (0..4).map(|_| random_from(B64, 64)).collect();
            let pem = format!(
                "-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----\n",
                body.join("\n")
            );
            let key = b64(pem.as_bytes());
            let token = format!("{}.{}", random_hex(3), random_hex(8));
            vec![
                sample(
                    format!(
                        "users:\n- name: admin\n  user:\n    client-certificate-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t\n    client-key-data: {key}\n"
                    ),
                    &[&key],
                ),
                sample(
                    format!(
                        "kubeadm join 10.0.0.5:6443 --token {token} --discovery-token-unsafe-skip-ca-verification"
                    ),
                    &[&token],
                ),
            ]
        }
        "putty" => {
            let private: Vec<String> = (0..3).map(|_| random_from(B64, 64)).collect();
            let mac = random_hex(32);
            let text = format!(
                "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: deploy\nPublic-Lines: 2\nAAAAC3NzaC1lZDI1NTE5AAAAI{}\n{}\nPrivate-Lines: 3\n{}\nPrivate-MAC: {mac}\n",
                random_from(B64, 39),
                random_from(B64, 8),
                private.join("\n")
            );
            let mut secrets: Vec<&str> = private.iter().map(String::as_str).collect();
            secrets.push(&mac);
            vec![sample(text, &secrets)]
        }
        "defaults" => {
            let (a, b, c, d) = (pw(), pw(), pw(), pw());
            vec![
                sample(
                    format!("export DB_PASSWORD=\"${{DB_PASSWORD:-{a}}}\""),
                    &[&a],
                ),
                sample(format!("pw = os.getenv(\"PW\", \"{b}\")"), &[&b]),
                sample(
                    format!("  password: {{{{ .Values.db.password | default \"{c}\" }}}}"),
                    &[&c],
                ),
                sample(
                    format!(
                        "variable \"db_password\" {{\n  type    = string\n  default = \"{d}\"\n}}"
                    ),
                    &[&d],
                ),
            ]
        }
        "yaml_next_line" => {
            let (a, b) = (pw(), tok(40));
            vec![
                sample(
                    format!("database:\n  password:\n    {a}\n  host: db"),
                    &[&a],
                ),
                sample(
                    format!("oauth:\n  client_secret: >-\n    {b}\n  client_id: web"),
                    &[&b],
                ),
            ]
        }
        "azure_sas" => {
            let raw: Vec<u8> = (0..32)
                .map(|_| u8::from_str_radix(&random_hex(1), 16).unwrap_or(7))
                .collect();
            let sig = b64(&raw)
                .replace('+', "%2B")
                .replace('/', "%2F")
                .replace('=', "%3D");
            vec![sample(
                format!(
                    "https://acme.blob.core.windows.net/backups/db.bak?sv=2022-11-02&ss=b&srt=o&sp=r&se=2030-01-01T00:00:00Z&spr=https&sig={sig}"
                ),
                &[&sig],
            )]
        }
        "google_oauth" => {
            let secret = format!("GOCSPX-{}", tok(28));
            let refresh = format!("1//0{}", random_from(B64URL, 90));
            let access = format!("ya29.a0{}", random_from(B64URL, 120));
            vec![
                sample(format!("client secret for the CLI: {secret}"), &[&secret]),
                sample(
                    format!("refreshed {refresh} then called with {access}"),
                    &[&refresh, &access],
                ),
            ]
        }
        "cli_flags" => {
            let (a, b, c, d, e) = (pw(), pw(), pw(), pw(), pw());
            vec![
                sample(format!("mysql -u root -p{a} -h db.internal app"), &[&a]),
                sample(format!("sshpass -p '{b}' ssh deploy@10.0.0.7"), &[&b]),
                sample(format!("redis-cli -h cache -a {c} ping"), &[&c]),
                sample(
                    format!("openssl rsa -in k.pem -out plain.pem -passin pass:{d}"),
                    &[&d],
                ),
                sample(
                    format!("ldapsearch -x -D cn=admin,dc=acme,dc=org -w {e} -b dc=acme,dc=org"),
                    &[&e],
                ),
            ]
        }
        "credential_files" => {
            let (a, b, c) = (pw(), pw(), tok(40));
            let auth = b64(format!("ci:{}", pw()).as_bytes());
            vec![
                sample(
                    format!("cat ~/.pgpass\ndb.internal:5432:orders:app:{a}"),
                    &[&a],
                ),
                sample(
                    format!("machine ftp.acme.io\n  login deploy\n  password {b}"),
                    &[&b],
                ),
                sample(
                    format!("//npm.acme.io/:_authToken={c}\nalways-auth=true"),
                    &[&c],
                ),
                sample(
                    format!("{{\"auths\": {{\"registry.acme.io\": {{\"auth\": \"{auth}\"}}}}}}"),
                    &[&auth],
                ),
            ]
        }
        "json_urls" => {
            let (a, b) = (tok(16), tok(16));
            vec![
                sample(
                    format!("{{\"DATABASE_URL\":\"postgres:\\/\\/app:{a}@db:5432\\/app\"}}"),
                    &[&a],
                ),
                sample(
                    format!("GET /login?next=postgres%3A%2F%2Fapp%3A{b}%40db%3A5432%2Fapp"),
                    &[&b],
                ),
            ]
        }
        "wrapped" => {
            let ghp = format!("ghp_{}", tok(36));
            let jwt = jwt();
            let (j1, j2) = jwt.split_at(60);
            let (g1, g2) = ghp.split_at(24);
            vec![
                sample(format!("GITHUB_TOKEN={g1}\n{g2}\nNEXT=1"), &[g1, g2]),
                sample(
                    format!("Authorization: Bearer {j1}\n{j2}"),
                    &[&j1[37..], j2],
                ),
            ]
        }
        "cut_short" => {
            let ghp = format!("ghp_{}", tok(24));
            let session = format!("IQoJb3JpZ2luX2VjE{}", random_from(B64, 600));
            let cookie = random_from("abcdefghijklmnopqrstuvwxyz0123456789", 30) + "9z";
            vec![
                sample(format!("token {ghp} (the rest scrolled off)"), &[&ghp[4..]]),
                sample(format!("aws_session_token = {session}"), &[&session]),
                sample(
                    format!("Cookie: sessionid={cookie}; theme=dark"),
                    &[&cookie],
                ),
            ]
        }
        "multi_word" => {
            let words = [
                "amber", "rocket", "window", "piano", "tulip", "engine", "frost", "harbor",
                "violet",
            ];
            // Distinct words in a random order.
            let mut order: Vec<(String, &str)> =
                words.iter().map(|w| (random_hex(8), *w)).collect();
            order.sort();
            let picked: Vec<&str> = order.iter().map(|(_, w)| *w).collect();
            let a = format!("{} {}", picked[..3].join(" "), random_from(DIGITS, 2));
            let b = picked[3..7].join(" ");
            vec![
                sample(format!("smtp:\n  password: {a}\n  port: 587"), &[&a]),
                sample(format!("The wifi password is {b}."), &[&b]),
            ]
        }
        "evasion_invisible" => {
            let (t, k, p) = (
                tok(36),
                random_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16),
                pw(),
            );
            vec![
                sample(format!("push with g\u{200B}hp_{t} please"), &[&t]),
                sample(format!("key AKIA\u{00AD}{k}"), &[&k]),
                sample(format!("pass\u{200D}word: {p}"), &[&p]),
            ]
        }
        "evasion_lookalike" => {
            let (t, u, p) = (tok(36), tok(36), pw());
            let fullwidth: String = "ghp_"
                .chars()
                .map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap_or(c))
                .collect();
            vec![
                sample(format!("token gh\u{0440}_{t}"), &[&t]),
                sample(format!("token {fullwidth}{u}"), &[&u]),
                sample(format!("p\u{0430}ssword: {p}"), &[&p]),
            ]
        }
        "evasion_placeholder" => {
            let (a, b) = (tok(20), tok(32));
            vec![
                sample(format!("password = \"changeme-{a}\""), &[&a]),
                sample(format!("api_key: \"YOUR-KEY-{b}\""), &[&b]),
            ]
        }
        "split_and_encoded" => {
            // Round 6: a token split after a short first piece, a token as
            // base64 with nothing naming it, a letters-only login password.
            let (a, b) = (random_from(ALNUM, 36), random_from(ALNUM, 36));
            let encoded = b64(format!("ghp_{b}").as_bytes());
            let word = random_from(PW_LOWER, 12);
            vec![
                sample(format!("const t = \"ghp_\" + \"{a}\";"), &[&a]),
                sample(
                    format!("echo {encoded} | base64 -d > ~/.token"),
                    &[&encoded],
                ),
                sample(format!("login: admin / password: {word}"), &[&word]),
            ]
        }
        other => panic!("no samples for class {other}"),
    }
}
