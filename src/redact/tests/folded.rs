//! Secrets in prose hard-wrapped at a fixed width (`fold -w`, a terminal
//! copied out): the wrap cuts the token anywhere, its anchor included, and
//! prose may follow its last piece on the same line. Every piece must go
//! (`super::super::unfold`), and folded prose without a secret must come
//! through unchanged.

use super::{all_kept, redacted};

/// `text` cut into lines of `width` characters, as `fold -w` does.
fn fold(text: &str, width: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    chars
        .chunks(width)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A fixed pseudo-random draw from `alphabet` (a linear congruential
/// generator: the cases stay the same from run to run).
fn draw(seed: &mut u64, n: usize, alphabet: &[u8]) -> String {
    (0..n)
        .map(|_| {
            *seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            char::from(alphabet[usize::try_from(*seed >> 33).unwrap_or(0) % alphabet.len()])
        })
        .collect()
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Fake tokens of kinds with a fixed and with a variable length.
fn tokens(seed: &mut u64) -> Vec<String> {
    vec![
        format!("ghp_{}", draw(seed, 36, ALNUM)),
        format!(
            "xoxb-{}-{}-{}",
            draw(seed, 10, b"0123456789"),
            draw(seed, 13, b"0123456789"),
            draw(seed, 24, ALNUM)
        ),
        format!(
            "AKIA{}",
            draw(seed, 16, b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        ),
        format!("sk-ant-api03-{}AA", draw(seed, 93, ALNUM)),
        format!("npm_{}", draw(seed, 36, ALNUM)),
        format!("glpat-{}", draw(seed, 20, ALNUM)),
        format!("sk_live_{}", draw(seed, 32, ALNUM)),
    ]
}

/// The longest run of `secret` found in `out` once its line breaks are gone.
fn longest_piece(secret: &str, out: &str) -> usize {
    let flat = out.replace('\n', "");
    (0..secret.len())
        .filter_map(|i| {
            (i + 1..=secret.len())
                .rev()
                .find(|&j| flat.contains(&secret[i..j]))
                .map(|j| j - i)
        })
        .max()
        .unwrap_or(0)
}

#[test]
fn every_piece_of_a_folded_token_is_replaced() {
    let mut seed = 7;
    let mut crossing = 0;
    for width in [40, 50, 60, 72, 80, 100, 132] {
        for trailing in [true, false] {
            // Every offset of the token within its line, in steps of 3.
            for offset in (0..width).step_by(3) {
                for secret in tokens(&mut seed) {
                    let lead = "word ".repeat(offset / 5 + 1);
                    let mut text = format!("{} deploy key {secret}", &lead[..offset]);
                    if trailing {
                        text.push_str(" then restart the workers and check the dashboards");
                    }
                    let folded = fold(&text, width);
                    if !folded
                        .lines()
                        .any(|l| l.len() == width && secret.contains(&l[l.len() - 2..]))
                    {
                        continue;
                    }
                    crossing += 1;
                    let out = redacted(&folded);
                    assert!(
                        longest_piece(&secret, &out) < 6,
                        "width {width}:\n{folded}\n->\n{out}"
                    );
                    if trailing {
                        // Fold cuts the prose too: read it with the breaks gone.
                        assert!(out.replace('\n', "").contains("dashboards"), "{out}");
                    }
                }
            }
        }
    }
    assert!(crossing > 500, "{crossing}");
}

#[test]
fn a_token_cut_inside_its_prefix_or_after_one_byte() {
    let s = "ghp_4fK9sLm2QxT7vB1nR8wY3zC6dH0jP5aE2uGi";
    let lead = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do e";
    for cut in [1, 2, 3, 4, 5, 20, 38, 39] {
        let first = format!("{lead} {}", &s[..cut]);
        let second = format!("{} thanks", &s[cut..]);
        let text = format!("{}\n{}\n{second}", "x ".repeat(first.len() / 2), first);
        let out = redacted(&text);
        assert!(longest_piece(s, &out) < 6, "{text}\n->\n{out}");
        assert!(out.ends_with(" thanks"), "{out}");
    }
}

#[test]
fn a_narrow_wrap_after_a_token_cut_short() {
    // 24 columns: too narrow to call a wrap, but the first piece is a token
    // cut short, and its rest (prose after it) is on the next line.
    let s = "ghp_4fK9sLm2QxT7vB1nR8wY3zC6dH0jP5aE2uGi";
    let out = redacted(&format!("fyi {}\n{} thanks", &s[..20], &s[20..]));
    assert_eq!(out, "fyi GITHUB_TOKEN_REDACTED thanks");
    // A plain word on the next line is not taken for its rest.
    let t = "see ghp_4fK9sLm2QxT7vB1nR8wY3z\nThanks for the review";
    assert!(
        redacted(t).ends_with("\nThanks for the review"),
        "{}",
        redacted(t)
    );
}

#[test]
fn folded_prose_and_separate_lines_are_kept() {
    let prose = "The deployment finished without errors and the workers were restarted \
                 afterwards; the dashboards show normal latency across every region again, \
                 and the incident channel has been archived until the next release window.";
    let mut texts = Vec::new();
    for width in [40, 60, 80] {
        texts.push(fold(prose, width));
    }
    texts.push(fold(
        &"74707c95f93ddf2ee0c62bf2fe27da75bc0f27a9 ee51d4ae78180beaff1da6eb992aaaf795c90819 "
            .repeat(3),
        50,
    ));
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    all_kept(&texts);
}

#[test]
fn a_whole_token_ending_its_line_does_not_take_the_next_word() {
    // The line after a token ends is not a wrap of it when nothing shows a
    // fixed width: `Let me know` stays.
    let out = redacted(
        "[stripe]\nstripe_api_key = sk_live_4eC39HqLyjWDarjtT1zdp7dcXk2\nLet me know if it works.",
    );
    assert!(out.ends_with("\nLet me know if it works."), "{out}");
    // Keys one per line, all as wide: each is its own token.
    let keys = "AKIAZ3MQW7XKJ4P2HB6N\nAKIAQ5RT7LMN2BV4XC6Z\nAKIAW2ER4TY6UI7OP3AS";
    let r = super::redactor().redact(keys);
    assert_eq!(r.counts.get("aws_access_key_id"), Some(&3), "{}", r.text);
}
