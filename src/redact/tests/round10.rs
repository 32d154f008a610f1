//! Round 10: recall on an independent corpus of many embeddings. Kept were
//! letters-only values (one case, or a few case slips) read as words or
//! type names, Ruby's `||=`, a shell `NAME=value && next`, prose with a few
//! words or an arrow between a name and its value in several languages,
//! hex keys after a variable's or a service's name in prose, dash-joined
//! passphrases under a secret's name and `netlify env:set NAME value`; and
//! PHP's `$_POST[…]` was taken for a password.

use super::{all_kept, all_redacted, all_within};

#[test]
fn random_letters_under_a_secret_name() {
    all_redacted(&[
        (
            "API_KEY=awSAKymyjluljkdemwkkribw",
            "awSAKymyjluljkdemwkkribw",
        ),
        ("api_key: dezmzJVIksAOzhqc", "dezmzJVIksAOzhqc"),
        ("SECRET=ocayocmmzajxkpixzt", "ocayocmmzajxkpixzt"),
        (
            "SECRET_KEY=efpxwuacmkdstUVWhucdxzR",
            "efpxwuacmkdstUVWhucdxzR",
        ),
        (
            "{\"session_secret\": \"csullyvwitraltfnwsrirtnzqub\"}",
            "csullyvwitraltfnwsrirtnzqub",
        ),
        (
            "Authorization: Bearer egmythvMqtjvzzyuMRAYmpbanifbffwjboikldg",
            "egmythvMqtjvzzyuMRAYmpbanifbffwjboikldg",
        ),
        (
            "fetch(u, { headers: { Authorization: `Bearer kbnckobrQOHgmtgbrvwtucabkbxrgbx` } })",
            "kbnckobrQOHgmtgbrvwtucabkbxrgbx",
        ),
        (
            "O PASSWORD de produção é ebzxnzimhnkoqlzphfohbsgizgnlwd, troque depois.",
            "ebzxnzimhnkoqlzphfohbsgizgnlwd",
        ),
        (
            "std::env::set_var(\"OAUTH_CLIENT_SECRET\", \"obgsrvhjkbnagntewzpvtcawykeng\");",
            "obgsrvhjkbnagntewzpvtcawykeng",
        ),
    ]);
}

#[test]
fn words_names_and_typed_runs_of_letters_stay() {
    all_kept(&[
        "secret = correcthorsebatterystaple_not",
        "    let secret = internationalization;",
        "api_key: abcdefghijklmnopqrst",
        "API_KEY=qwertyuiopasdfghjkl",
        "token: kCFStringTokenizerTokenHasSubTokensMask",
        "fn f(key: XMLHttpRequestUploadEventTarget) {}",
        "  password: ClientExtensions,",
        "secret: dwMemoryLoad",
        "key: HkdfUsingHmac",
        "El token de acceso es obligatorio para todas las llamadas.",
        "Hasło do bazy jest zaszyfrowane.",
    ]);
}

#[test]
fn assign_if_unset_and_shell_chains() {
    all_redacted(&[
        (
            "ENV[\"TWILIO_AUTH_TOKEN\"] ||= \"094a1eae5afccba3b20ac3bd0a2db1c6\"",
            "094a1eae5afccba3b20ac3bd0a2db1c6",
        ),
        (
            "config.api_key ||= \"k3JdP9xQ2mLw8ZrT5vNb\"",
            "k3JdP9xQ2mLw8ZrT5vNb",
        ),
        (
            "opts.secret ??= 'k3JdP9xQ2mLw8ZrT5vNb';",
            "k3JdP9xQ2mLw8ZrT5vNb",
        ),
        (
            "{\"command\": \"export PASSWORD=gdhdd528gp30tpin && make deploy\"}",
            "gdhdd528gp30tpin",
        ),
        (
            "DATADOG_API_KEY=d87e71a66b71b371e7521928c2af005d || exit 1",
            "d87e71a66b71b371e7521928c2af005d",
        ),
        (
            "netlify env:set DB_PASSWORD yex1f7l5krq84c29cbgfcqjah",
            "yex1f7l5krq84c29cbgfcqjah",
        ),
    ]);
    all_kept(&[
        "ENV[\"SECRET_KEY_BASE\"] ||= ENV.fetch(\"X\")",
        "options.token ??= process.env.TOKEN",
        "password = input && valid",
        "if (password && token) { login(); }",
        "PASSWORD=$1 && make deploy",
        "netlify env:set API_KEY $API_KEY",
    ]);
}

#[test]
fn php_superglobals_are_code() {
    all_kept(&[
        "$password = $_POST['password'] ?? '';",
        "$user = $_GET[\"user\"]; $password = $_POST[\"password\"];",
        "$token = $_SERVER['HTTP_X_TOKEN'];",
    ]);
}

#[test]
fn prose_with_words_or_an_arrow_before_the_value() {
    all_redacted(&[
        (
            "Der TWILIO_AUTH_TOKEN für Staging lautet e6ac25853e0e7e4083436c4831a15d40 – bitte",
            "e6ac25853e0e7e4083436c4831a15d40",
        ),
        (
            "O DD_API_KEY de produção é 65b3d73b25d73d439406bf2055a6db1d, troque depois.",
            "65b3d73b25d73d439406bf2055a6db1d",
        ),
        (
            "El valor de API_KEY es gyfjlstemxviytqyeepxaifjguoqy, no lo compartas.",
            "gyfjlstemxviytqyeepxaifjguoqy",
        ),
        ("ADMIN_PASSWORD 값은 913hv2qclz8g 입니다.", "913hv2qclz8g"),
        ("PASSWORD değeri: gprdgnuekxKTJnlm", "gprdgnuekxKTJnlm"),
        (
            "@ana here's the heroku api key for staging → b80c45e5-40fd-ea7e-cede-9bae87e76149",
            "b80c45e5-40fd-ea7e-cede-9bae87e76149",
        ),
        (
            "the service api key for staging -> Z4CRYu4udt1o1G9c3d8k2aC1mz",
            "Z4CRYu4udt1o1G9c3d8k2aC1mz",
        ),
    ]);
    all_kept(&[
        "La clave API es necesaria.",
        "Das Passwort für den Server ist geheim.",
        "Der Schlüssel lautet wie folgt.",
        "the api key for staging → see vault",
        "token for prod -> rotate weekly",
        "Rust: fn token_for(x: u8) -> Token",
        "PASSWORD 값은 설정 파일에 있습니다",
    ]);
}

#[test]
fn hex_keys_after_a_variable_or_a_service_in_prose() {
    all_redacted(&[
        (
            "DATADOG_API_KEY の値は 302ae141e0fb281799b053050f19a050aad18208 です。",
            "302ae141e0fb281799b053050f19a050aad18208",
        ),
        (
            "datadog app key: 2213009821b1647fbbd4cdc9d31d08b4",
            "2213009821b1647fbbd4cdc9d31d08b4",
        ),
        (
            "- **Dd App Key**: `efa2ab8286d310e53172d3f6d0b96e71`",
            "efa2ab8286d310e53172d3f6d0b96e71",
        ),
        (
            "here's the dd app key for staging → 09ba7dbeac32c5b98b3b66c495caed8520ebe738",
            "09ba7dbeac32c5b98b3b66c495caed8520ebe738",
        ),
        (
            "here is your API key: Z4CRYu4udt1o1G9c3d8k2aC1mz",
            "Z4CRYu4udt1o1G9c3d8k2aC1mz",
        ),
    ]);
    all_kept(&["the token fix is cfd13879a2b3c4d5e6f708192a3b4c5d6e7f8091"]);
}

#[test]
fn dash_joined_passphrases_under_a_secret_name() {
    all_redacted(&[
        (
            "JWT_SECRET=orchid-granite-copper-49",
            "orchid-granite-copper-49",
        ),
        (
            "export API_KEY='cobalt-saffron-harbor-28'",
            "cobalt-saffron-harbor-28",
        ),
        (
            "{\"session_secret\": \"orchid-falcon-meadow-28\"}",
            "orchid-falcon-meadow-28",
        ),
    ]);
    all_kept(&[
        "token: \"m2m-access-token-12345\"",
        "api_key = \"x-hello-world-64\"",
        "secret: demo-cache-project-test",
        "cache_key: \"project-cache-v5-\"",
    ]);
}

#[test]
fn round10_checks_stay_linear() {
    let inputs: Vec<String> = [
        "ocayocmmzajxkpixzt ",
        "X ||= ",
        "A=b && ",
        "$_POST[",
        "PASSWORD für é ",
        "key for x → ",
        "app api key: ",
        "orchid-granite-",
        "env:set K ",
    ]
    .iter()
    .map(|p| p.repeat(51_200 / p.len()))
    .collect();
    all_within(&inputs, 10.0);
}
