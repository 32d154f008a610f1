//! Round 7: this bridge's invite codes in the other spellings
//! `join_conversation` accepts (lower case, undashed, spaced) after a word
//! that introduces them; `pass` inside compound names in code
//! (`GpuComputePassEncoder`, `render_pass`) no longer read as a password
//! name, nor a few other shapes of pasted Rust (a return type after `) ->`,
//! a `use` list read as a CSV header, `credential: Credential`); and a `#`
//! inside a password in a query string kept as part of it.

use super::{all_kept, all_redacted, all_within, redacted};

#[test]
fn invite_codes_in_other_spellings_after_an_introducing_word() {
    all_redacted(&[
        ("invite code: 9wq4-m7xd-4htp-0r3k", "m7xd-4htp"),
        ("join with 9WQ4M7XD4HTP0R3K", "M7XD4HTP"),
        ("join with 9wq4m7xd4htp0r3k.", "m7xd4htp"),
        ("code 9WQ4 M7XD 4HTP 0R3K", "M7XD 4HTP"),
        ("redeem `q3zd8mrak2w6tb7n`", "8mrak2w6"),
        ("invite_code=9WQ4-M7XD-4HTP-0R3K", "M7XD-4HTP"),
        ("mcp-bridge join --invite-code=9wq4m7xd4htp0r3k", "m7xd4htp"),
        ("{\"inviteCode\": \"9wq4 m7xd 4htp 0r3k\"}", "m7xd 4htp"),
        (
            "Invitation for the reviewer (observer, valid 24 h): 9wq4-m7xd-4htp-0r3k",
            "m7xd-4htp",
        ),
        ("invite code: 7kq2-m9xd-4htp-0r3c", "m9xd-4htp"),
    ]);
    // A code spelled once with its introducing word and once without is
    // redacted both times: the second copy is the first one said again.
    let out = redacted("invite code 9wq4m7xd4htp0r3k; paste 9wq4m7xd4htp0r3k");
    assert_eq!(
        out,
        "invite code INVITE_CODE_REDACTED; paste INVITE_CODE_REDACTED"
    );
}

#[test]
fn sixteen_symbols_that_are_not_invite_codes_stay() {
    all_kept(&[
        // No introducing word: hashes, ids and base-32 strings in code and logs.
        "7kq2-m9xd-4htp-0r3c in lower case is how users type it",
        "7KQ2M9XD4HTP0R3C",
        "totp secret base32 9WQ4M7XD4HTP0R3K",
        // Introduced, but not a code.
        "invite code fix: 9fceb02d0ae598e95dc970b74767f19372d61af8",
        "error code 3f9a1c2b7e8d4f6a (span id)",
        "invite id 550e8400-e29b-41d4-a716-446655440000",
        "code 1234-5678-9012-3456 is the sample card number",
        "join the team: abcdefghjkmnpqrs",
        "join team 2025 next week",
        "code: a1b2-c3d4-e5f6-a7b8",
        "code 9WQ4-M7XD-4HTP-0R3K-1234",
        "code 1A2B 9WQ4 M7XD 4HTP 0R3K",
        "join with 9wQ4m7Xd4hTp0r3K",
        "- [GHSA-3rjw-m598-pq24]: Non-constant-time code generation on ARM64",
        "[chat]: https://img.shields.io/badge/zulip-join_chat-blue.svg\n[GHSA-3rjw-m598-pq24]: https://github.com/RustCrypto/utils/security/advisories/GHSA-3rjw-m598-pq24",
        "let x = decode(\"9wq4m7xd4htp0r3k\")",
        "unicode 9wq4m7xd4htp0r3k",
        "invite_code: must be 16 letters and digits, e.g. 7KQ2-M9XD-4HTP-0R3C",
        // Words that spell 16 symbols without a digit.
        "join: qwertyzxcvbnmasd",
    ]);
}

#[test]
fn pass_inside_compound_names_in_code_is_not_a_password() {
    all_kept(&[
        "GpuComputePassEncoder = createEncoder7x",
        "let render_pass = encoder.begin_render_pass(&desc);",
        "const renderPass = \"Xq8mZ2vL9kP\"",
        "shadow_pass = \"Xq8mZ2vL9kP\"",
        "passEncoder: `Qz7wLm2Rt9`",
        "RenderPassDescriptor: `Qz7wLm2Rt9`",
        "pass_count = 3",
        "bypassCache = kX9mQ2vL7p",
        "compassHeading = kX9mQ2vL7p",
        "#[doc = \"*This API requires the following crate features to be activated: `GpuComputePassEncoder`, `GpuComputePipeline`*\"]\npub fn set_pipeline(this: &GpuComputePassEncoder, pipeline: &GpuComputePipeline);",
    ]);
    all_redacted(&[
        ("pass=Xq8mZ2vL9kP", "Xq8mZ2vL9kP"),
        ("db_pass = \"Xq8mZ2vL9kP\"", "Xq8mZ2vL9kP"),
        ("DB_PASS=Xq8mZ2vL9kP", "Xq8mZ2vL9kP"),
        ("smtpPass: Xq8mZ2vL9kP", "Xq8mZ2vL9kP"),
        ("mysql_pass = 'Xq8mZ2vL9kP'", "Xq8mZ2vL9kP"),
        ("SMTP_PASS_PROD=Xq8mZ2vL9kP", "Xq8mZ2vL9kP"),
        ("passPhrase: Xq8mZ2vL9kP", "Xq8mZ2vL9kP"),
    ]);
}

#[test]
fn other_shapes_of_pasted_rust_are_not_secrets() {
    all_kept(&[
        // A return type after a parameter named like a secret.
        "pub fn derive_serialize(input: TokenStream) -> TokenStream {\n    ser::expand(input)\n}",
        "pub fn Lifetime(marker: lookahead::TokenMarker) -> Lifetime {\n    match marker {}\n}\nimpl Eq for Lifetime {}",
        // A `use` list whose line reads like a CSV header.
        "use rmcp::transport::auth::{\n    AuthError, AuthorizationManager, AuthorizationMetadata, CredentialRefreshGuard,\n    CredentialStore, InMemoryCredentialStore, OAuthClientConfig, OAuthTokenResponse,\n    StoredCredentials,\n};",
        // A field typed by its own name.
        "struct KeyPackage {\n    credential: Credential,\n    extensions: TlsVecU32<Extension>,\n}\nfn f(c: Credential) {}",
        // A list of words, one of them named like a password, is no call
        // with a name and its value.
        "KEYWORDS = (\n    \"cache_mem_low\", \"cache_mgr\", \"cachemgr_passwd\", \"cache_peer\",\n    \"cache_peer_access\",\n)",
        "MAPPING = ['splittype', 'splithost', 'splituser',\n           'splitpasswd', 'splitport', 'splitquery']",
        // Trait bounds, turbofish calls, lifetime parameters, Apple constants,
        // MCP progress tokens.
        "trait Secret: ZeroizeOnDrop + Zeroize {}\n#[derive(Zeroize, ZeroizeOnDrop)]",
        "let process_id = buf.read_i32::<BigEndian>()?;\nlet secret_key = buf.read_i32::<BigEndian>()?;",
        "let raw_private_key: Curve25519SeedBin<'_> = private_key\nuse aws_lc_rs::encoding::{AsBigEndian, Curve25519SeedBin};",
        "const SMIME_ENCRYPTION_KEY_PREFS = kCMSAttrSmimeEncryptionKeyPrefs;\nfn f(a: kCMSAttrSmimeEncryptionKeyPrefs) {}",
        "{\"_meta\": {\"progressToken\": \"progress-test-1\"}}",
        // Type aliases, and types named after a name in prose or a list.
        "pub type CFStreamPropertyKey = CFStringRef;\npub static kCFStreamPropertySOCKSPassword: CFStringRef;",
        "pub(crate) type TokenTreeIter = RcVecIntoIter<TokenTree>;\nuse crate::rcvec::{RcVec, RcVecIntoIter};",
        "// Map of `Token` -> `TcpStream`.\nfn accept(connection: &mut TcpStream) {}",
        "#[doc = \"*This API requires the following crate features to be activated: `RequestCredentials`, `RequestInit`*\"]\npub fn get_body(this: &RequestInit);",
    ]);
    // Prose arrows, defaults, letters-only tokens and CSV exports still
    // carry secrets.
    all_redacted(&[
        ("API key -> Zq8mW2vL9kPq7Xc4", "Zq8mW2vL9kPq7Xc4"),
        (
            "os.getenv(\"API_TOKEN\", \"Zq8mW2vL9kPq7Xc4\")",
            "Zq8mW2vL9kPq7Xc4",
        ),
        ("API_TOKEN=XmQvLzPwRtYkBnCd", "XmQvLzPwRtYkBnCd"),
        ("api_token: kXmQvLzPwRtYkBnCd", "kXmQvLzPwRtYkBnCd"),
        ("CF_API_TOKEN = \"Zq8mW2vL9kPq7Xc4\"", "Zq8mW2vL9kPq7Xc4"),
        (
            "type: password\npassword: CorrectHorseBattery",
            "CorrectHorseBattery",
        ),
        (
            "name,url,username,password\nprod,https://x.io,ops,Qw9zLm2pR7vTx\n",
            "Qw9zLm2pR7vTx",
        ),
    ]);
}

#[test]
fn a_hash_inside_a_password_is_part_of_it() {
    all_redacted(&[
        (
            "https://db.example.com/login?user=app&password=W3#eN9xQvL2z",
            "eN9xQvL2z",
        ),
        ("GET /login?password=W3#eN9xQvL2z HTTP/1.1", "eN9xQvL2z"),
        (
            "open https://app.example.com/reset?token=abc&pwd=W3#eN9xQ!z",
            "eN9xQ!z",
        ),
        ("?password=W3#eN9xQ!z", "eN9xQ!z"),
        (
            "https://example.com/a?password=Kq8zW2mX#frag-intro",
            "Kq8zW2mX",
        ),
        ("password=W3#eN9xQ!z", "eN9xQ!z"),
        ("export PGPASSWORD=hunter2#x9Lq", "x9Lq"),
    ]);
    let out = redacted("https://example.com/a?password=Kq8zW2mX#frag-intro");
    assert!(!out.contains("frag"), "{out}");
}

#[test]
fn a_comment_or_a_fragment_after_a_value_stays() {
    all_kept(&[
        "password=secret # comment",
        "see https://example.com/docs?password=reset#top",
        "https://example.com/page?password=reset#section-2",
        "https://example.com/a?pass=1#L20",
        "https://example.com/settings?tab=password#/security",
    ]);
    for (text, kept) in [
        (
            "password=Zq8mW2vL9k # rotated monthly",
            " # rotated monthly",
        ),
        ("DB_PASSWORD=Zq8mW2vL9k #rotated", " #rotated"),
        (
            "password = Zq8mW2vL9k ; from the vault",
            " ; from the vault",
        ),
        ("password: Zq8mW2vL9k # from the vault", " # from the vault"),
        (
            "https://x.io/cb?api_key=Zq8mW2vL9kPq7Xc4#access_token=abc",
            "#access_token=abc",
        ),
    ] {
        let out = redacted(text);
        assert!(out.ends_with(kept), "{text:?} -> {out:?}");
        assert!(!out.contains("Zq8mW2vL9k"), "{text:?} -> {out:?}");
    }
}

#[test]
fn round7_adversarial_inputs_stay_fast() {
    let inputs = [
        "code ".repeat(20_000),
        "code 9wq4 ".repeat(20_000),
        "invite 9wq4m7xd4htp0r3k ".repeat(5_000),
        "join 9wq4-".repeat(20_000),
        "9WQ4 ".repeat(40_000),
        format!("code {}", "9wq4".repeat(50_000)),
        "?password=W3#".repeat(10_000),
        "&password=a#b#".repeat(10_000),
        format!("?password={}", "#aB3".repeat(50_000)),
        "pass_pass_".repeat(20_000),
    ];
    all_within(&inputs, 30.0);
}

/// Every code the bridge issues is redacted in every spelling an agent
/// pastes it in, whatever the draw: a code the checks would pass over (no
/// digit, a typed group, too few mixed groups: about 7% of draws) is never
/// issued. CI once drew one with no digit, and an observer read it.
#[test]
fn every_issued_code_is_redacted_in_every_spelling() {
    use crate::domain::InviteCode;
    let mut passed_over = 0;
    for _ in 0..2_000 {
        let drawn = InviteCode::random().unwrap();
        if !super::super::recognises_invite_code(drawn.as_bytes()) {
            passed_over += 1;
        }
        let code = InviteCode::random_where(super::super::recognises_invite_code).unwrap();
        let shown = code.to_display();
        let undashed = shown.replace('-', "");
        for text in [
            format!("Your code: {shown}"),
            format!("paste {shown} into the dialog"),
            format!("invite code: {}", shown.to_lowercase()),
            format!("join with {undashed}"),
            format!("redeem {} for docs", undashed.to_lowercase()),
            format!("code {} (valid 24 h)", shown.replace('-', " ")),
            format!(
                "code {} (valid 24 h)",
                shown.replace('-', " ").to_lowercase()
            ),
            format!("--invite-code={shown}"),
        ] {
            let out = redacted(&text);
            assert!(out.contains("INVITE_CODE_REDACTED"), "{text:?} -> {out:?}");
            assert!(!out.contains(&shown[5..14]), "{text:?} -> {out:?}");
        }
    }
    // Passing over draws must stay rare: each one costs entropy.
    assert!(passed_over < 250, "{passed_over} of 2000 draws passed over");
}

/// Kubernetes bootstrap tokens whose draw repeats symbols (a hex-only draw
/// falls under the entropy bar about one time in 370: CI's e2e sample drew
/// one) are redacted by their shape; the documentation's example is not.
#[test]
fn bootstrap_tokens_that_repeat_symbols() {
    all_redacted(&[
        (
            "kubeadm join 10.0.0.5:6443 --token 37a763.37add036a55de330 --discovery-token-unsafe-skip-ca-verification",
            "37add036a55de330",
        ),
        ("  token: 04d65e.9ddee0dbedd9e740", "9ddee0dbedd9e740"),
        (
            "kubeadm join --token=4858e3.3f3955495e459484",
            "3f3955495e459484",
        ),
    ]);
    all_kept(&["kubeadm join 10.0.0.5:6443 --token abcdef.0123456789abcdef"]);
}
