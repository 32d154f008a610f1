//! Random letters told from words. A generated value of letters alone
//! (`ocayocmmzajxkpixzt`, `awSAKymyjluljkdemwkkribw`: one case, or a few case
//! slips) has no digit or case noise to give it away, and reads like an
//! identifier to every other check. What still gives it away is its letter
//! pairs: names and prose are made of pairs that English and code use
//! (`th`, `er`, `ing`), random letters of pairs they rarely or never use
//! (`zj`, `xk`, `qz`).

/// How common each letter pair is in names and prose, by first letter (row)
/// and second letter (column): `round(log2(p · 676)) + 5`, clipped to 0..=9,
/// so 5 is what a uniform draw gives every pair. Counted over the
/// letters-only words (4 letters or more, lower-cased) of half the Rust,
/// Python, Markdown and text files of this machine's crate sources, Python
/// library and `/usr/share/doc`; checked on the other half (see
/// [`random_letters`]).
const PAIRS: [&[u8; 26]; 26] = [
    b"16761660503777060878543350", // a
    b"51315010640610500332600040", // b
    b"62427306506621930657513030", // c
    b"62258252601421720443423130", // d
    b"75775652433868355987363740", // e
    b"60127500600511610553400020", // f
    b"30217123500324420453400000", // g
    b"60116000600120510525401020", // h
    b"64676550202679750578261406", // i
    b"10004000000000300040100000", // j
    b"20116010400013100131100000", // k
    b"73358720711622730256511040", // l
    b"74227100500341660142500000", // m
    b"62687571505434640288544020", // n
    b"34664530525669570856647222", // o
    b"71437213501612650756512050", // p
    b"00000000000200000000500000", // q
    b"82559550704356730666642050", // r
    b"61528225704452662369722063", // s
    b"74539318801442750866612170", // t
    b"45536450500757260766100200", // u
    b"60207010500110510004000000", // v
    b"50114104700114410571000000", // w
    b"30203101200110040015000010", // x
    b"12212110201224260154001000", // y
    b"10106000200000200000000000", // z
];

/// The shortest value judged: below 12 letters a word or an abbreviation
/// (`ngx`, `pkcs`, `sqlx`) scores as low as random letters.
const MIN_LEN: usize = 12;

/// Whether `v` is letters only, at least [`MIN_LEN`] of them, and its
/// letter pairs average below 4.5 on the [`PAIRS`] scale (4.75 from 20
/// letters on). On the held-out half this takes 98.8 % of random letter
/// strings (12–32 letters, one case, mixed, or with case slips) and 0.8 % of
/// the distinct words of 12 letters or more in code and prose, mostly
/// Windows' Hungarian names (`ucNfcIPTgtMode`, `lpszProxyBypass`) and
/// random test data. Such a name is read as a value only in a secret's slot
/// (`token: lpszProxyBypass`), which crate sources never showed.
pub(crate) fn random_letters(v: &[u8]) -> bool {
    if v.len() < MIN_LEN || !v.iter().all(u8::is_ascii_alphabetic) || run_of_a_row(v) {
        return false;
    }
    pairs_random(v)
}

fn pairs_random(v: &[u8]) -> bool {
    let (score, n) = pair_score(v);
    // A longer draw averages out closer to its mean, and names that long
    // are made of more words: the bar rises from 4.5 to 4.75 at 20 letters.
    if v.len() >= 20 {
        4 * score < 19 * n
    } else {
        2 * score < 9 * n
    }
}

/// Whether the letters `v` (six or more) are made of pairs words almost
/// never use, averaging below 2 on the [`PAIRS`] scale (`lyxdhb` 1.2,
/// `Thanks` 5): too short for [`random_letters`] to judge, but not a word.
pub(crate) fn unlike_words(v: &[u8]) -> bool {
    if v.len() < 6 || !v.iter().all(u8::is_ascii_alphabetic) {
        return false;
    }
    let (score, n) = pair_score(v);
    score < 2 * n
}

/// The sum of `v`'s letter-pair scores, and how many pairs there are.
fn pair_score(v: &[u8]) -> (usize, usize) {
    let score: usize = v
        .windows(2)
        .map(|w| {
            let a = usize::from(w[0].to_ascii_lowercase() - b'a');
            let b = usize::from(w[1].to_ascii_lowercase() - b'a');
            usize::from(PAIRS[a][b] - b'0')
        })
        .sum();
    (score, v.len().saturating_sub(1).max(1))
}

/// `abcdefghijkl`, `qwertyuiopas`: letters typed along the alphabet or a
/// keyboard row are a placeholder, not a draw. Six in a row: random letters
/// run four along the alphabet often enough (`…dstUVWhu…`).
fn run_of_a_row(v: &[u8]) -> bool {
    const ROWS: [&[u8]; 4] = [
        b"abcdefghijklmnopqrstuvwxyz",
        b"qwertyuiop",
        b"asdfghjkl",
        b"zxcvbnm",
    ];
    let lower: Vec<u8> = v.iter().map(u8::to_ascii_lowercase).collect();
    lower
        .windows(6)
        .any(|w| ROWS.iter().any(|r| r.windows(6).any(|x| x == w)))
}

#[cfg(test)]
mod tests {
    use super::random_letters;

    #[test]
    fn random_letters_are_told_from_names() {
        for v in [
            "ocayocmmzajxkpixzt",
            "awSAKymyjluljkdemwkkribw",
            "dezmzJVIksAOzhqc",
            "egmythvMqtjvzzyuMRAYmpbanifbffwjboikldg",
            "ebzxnzimhnkoqlzphfohbsgizgnlwd",
            "efpxwuacmkdstUVWhucdxzR",
        ] {
            assert!(random_letters(v.as_bytes()), "{v}");
        }
        for v in [
            "GpuComputePassEncoder",
            "internationalization",
            "correcthorsebatterystaple",
            "XMLHttpRequestUploadEventTarget",
            "kCFStringTokenizerTokenHasSubTokensMask",
            "abcdefghijklmnop",
            "qwertyuiopasdfgh",
            "shortrandom",
            "production",
        ] {
            assert!(!random_letters(v.as_bytes()), "{v}");
        }
    }
}
