//! Throughput of `Redactor::redact` on secret-free text (prose, code, logs,
//! hashes, UUIDs: everything that must pass unchanged), on the same with
//! non-ASCII in every line (which goes through the normalising view), and on
//! text dense with secrets of many kinds. Reported as bytes/second by criterion.
//!
//! Run with a short measurement: `cargo bench --bench redact -- --measurement-time 3`.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mcp_bridge::redact::Redactor;

/// Small deterministic generator so the bench needs no extra crates.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[(self.next() % xs.len() as u64) as usize]
    }
    fn chars(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n)
            .map(|_| char::from(alphabet[(self.next() % alphabet.len() as u64) as usize]))
            .collect()
    }
}

const AN: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const HEX: &[u8] = b"0123456789abcdef";

const PROSE: &[&str] = &[
    "The planner agent finished the refactor of the session store and asked the coder to review the token refresh path before merging.",
    "We rotated the API keys last week; the new policy says every secret lives in the vault and nobody pastes a password into chat.",
    "Tests pass locally now. The flaky one was the long-poll test, which waited on a fixed sleep instead of the change signal.",
    "Can you double check the migration? The key column is nullable in production but not in the schema file, and the index is missing.",
    "The tokenizer splits on whitespace and punctuation; max_tokens is 4096 for the summariser and 1024 for the classifier.",
    "Passwordless login shipped behind a flag. The secretary of the board asked for a short note on the password policy change.",
];
const CODE: &[&str] = &[
    "fn handle(&self, key: &str) -> Result<Option<Value>, StoreError> {\n    let conn = self.pool.get()?;\n    conn.query_row(\"SELECT value FROM kv WHERE key = ?1\", [key], |r| r.get(0)).optional()\n}",
    "def check_password(password_hash: bytes, candidate: str) -> bool:\n    return bcrypt.checkpw(candidate.encode(), password_hash)",
    "const token = request.headers.get('authorization')?.replace('Bearer ', '');\nif (!token) return res.status(401).end();",
    "for key, value in sorted(settings.items()):\n    print(f\"{key}={value!r}\")",
    "api_key = os.environ[\"OPENAI_API_KEY\"]\nclient = OpenAI(api_key=api_key, timeout=30)",
];

fn log_line(r: &mut Rng) -> String {
    format!(
        "2024-05-02T10:{:02}:{:02}Z INFO request_id={}-{}-4{}-a{}-{} trace={} GET /v1/messages 200 {}ms commit {}\n",
        r.next() % 60,
        r.next() % 60,
        r.chars(HEX, 8),
        r.chars(HEX, 4),
        r.chars(HEX, 3),
        r.chars(HEX, 3),
        r.chars(HEX, 12),
        r.chars(HEX, 32),
        r.next() % 900,
        r.chars(HEX, 40),
    )
}

fn secret_free(size: usize) -> String {
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let mut s = String::with_capacity(size + 1024);
    while s.len() < size {
        match r.next() % 4 {
            0 => s.push_str(r.pick(PROSE)),
            1 => s.push_str(r.pick(CODE)),
            2 => s.push_str(&log_line(&mut r)),
            _ => s.push_str(&format!(
                "sha256:{}  integrity sha512-{}==\n",
                r.chars(HEX, 64),
                r.chars(AN, 86)
            )),
        }
        s.push('\n');
    }
    s
}

/// Secret-free text with non-ASCII in every line (accents, CJK, emoji,
/// Cyrillic and Greek prose, a zero-width joiner): every chunk goes through
/// the normalising view, and must still come out unchanged.
fn secret_free_unicode(size: usize) -> String {
    const UNICODE: &[&str] = &[
        "Der Schlüssel liegt im Tresor → bitte nicht ändern. ",
        "日本語のテキストも含まれています。",
        "Привет, коллеги: релиз завтра, ключи в хранилище. ",
        "Η έκδοση κυκλοφορεί αύριο. ",
        "naïve café déjà vu — “quoted” ",
        "👩\u{200D}💻 shipped it 🎉 ",
    ];
    let mut r = Rng(0x51_7cc1_b727_220a);
    let mut s = String::with_capacity(size + 1024);
    for line in secret_free(size).lines() {
        s.push_str(line);
        s.push(' ');
        s.push_str(r.pick(UNICODE));
        s.push('\n');
    }
    s
}

fn secret_dense(size: usize) -> String {
    let mut r = Rng(0x2545_f491_4f6c_dd1d);
    let mut s = String::with_capacity(size + 1024);
    while s.len() < size {
        let line = match r.next() % 12 {
            0 => format!(
                "export AWS_ACCESS_KEY_ID=AKIA{}\n",
                r.chars(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16)
            ),
            1 => format!("aws_secret_access_key = {}\n", r.chars(AN, 40)),
            2 => format!("GITHUB_TOKEN=ghp_{}\n", r.chars(AN, 36)),
            3 => format!("password: \"{}!{}\"\n", r.chars(AN, 10), r.chars(AN, 4)),
            4 => format!(
                "DATABASE_URL=postgres://app:{}@db.internal:5432/relay\n",
                r.chars(AN, 20)
            ),
            5 => format!(
                "curl -H \"Authorization: Bearer {}\" https://api.acme.io\n",
                r.chars(AN, 40)
            ),
            6 => format!("const apiKey = \"{}\";\n", r.chars(HEX, 32)),
            7 => format!(
                "OPENAI_API_KEY=sk-proj-{}T3BlbkFJ{}\n",
                r.chars(AN, 74),
                r.chars(AN, 74)
            ),
            8 => format!(
                "token: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ{}.{}\n",
                r.chars(AN, 40),
                r.chars(AN, 43)
            ),
            9 => format!(
                "SLACK_BOT_TOKEN=xoxb-{}-{}-{}\n",
                r.chars(b"0123456789", 11),
                r.chars(b"0123456789", 12),
                r.chars(AN, 24)
            ),
            10 => format!(
                "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA{}\n{}\n-----END RSA PRIVATE KEY-----\n",
                r.chars(AN, 48),
                r.chars(AN, 64)
            ),
            _ => format!("client_secret: {}\n", r.chars(AN, 32)),
        };
        s.push_str(&line);
        s.push_str(r.pick(PROSE));
        s.push('\n');
    }
    s
}

fn bench(c: &mut Criterion) {
    let redactor = Redactor::builtin();
    let clean = secret_free(400 * 1024);
    let out = redactor.redact(&clean);
    if out.text != clean.as_str() {
        let first = clean
            .bytes()
            .zip(out.text.bytes())
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        let lo = first.saturating_sub(120);
        panic!(
            "secret-free bench text changed ({:?}) near: {:?}",
            out.counts,
            &clean[lo..(first + 80).min(clean.len())]
        );
    }
    let unicode = secret_free_unicode(400 * 1024);
    let out = redactor.redact(&unicode);
    assert!(
        out.text == unicode.as_str(),
        "secret-free unicode text changed: {:?}",
        out.counts
    );
    let dense = secret_dense(200 * 1024);
    let n: usize = redactor.redact(&dense).counts.values().sum();
    eprintln!("dense text: {} bytes, {n} secrets", dense.len());
    assert!(n > 500);

    let mut g = c.benchmark_group("redact");
    g.throughput(Throughput::Bytes(clean.len() as u64));
    g.bench_function("secret_free", |b| {
        b.iter(|| redactor.redact(std::hint::black_box(&clean)).counts.len())
    });
    g.throughput(Throughput::Bytes(unicode.len() as u64));
    g.bench_function("secret_free_unicode", |b| {
        b.iter(|| redactor.redact(std::hint::black_box(&unicode)).counts.len())
    });
    g.throughput(Throughput::Bytes(dense.len() as u64));
    g.bench_function("secret_dense", |b| {
        b.iter(|| redactor.redact(std::hint::black_box(&dense)).counts.len())
    });
    g.finish();
    c.bench_function("builtin_construction", |b| b.iter(Redactor::builtin));
}

criterion_group!(benches, bench);
criterion_main!(benches);
