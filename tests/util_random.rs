//! Random test values that replay: every test thread draws from its own
//! stream derived from one seed (`TEST_SEED`, printed with a test's output),
//! so a test that failed on a sampled value fails again with that seed.

/// The seed of this process's random test values: `TEST_SEED` when set,
/// else drawn once.
fn test_seed() -> u64 {
    static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *SEED.get_or_init(|| match std::env::var("TEST_SEED") {
        Ok(seed) => seed.trim().parse().expect("TEST_SEED is a number"),
        Err(_) => {
            let mut bytes = [0u8; 8];
            getrandom::fill(&mut bytes).expect("random bytes");
            u64::from_le_bytes(bytes)
        }
    })
}

/// `n` random bytes, replayable. Each thread draws from its own stream,
/// derived from the seed and the thread's name, which libtest sets to the
/// test's; so a test that fails on a random value (a sampled secret the
/// engine missed) fails again with `TEST_SEED=<seed> cargo test <its name>`,
/// the seed being printed with its output. Threads sharing a name (runtime
/// workers) get distinct streams, so values used as unique names stay unique.
pub fn random_bytes(n: usize) -> Vec<u8> {
    use sha2::Digest;
    use std::cell::RefCell;
    use std::collections::HashMap;
    static SEEN: std::sync::Mutex<Option<HashMap<String, u64>>> = std::sync::Mutex::new(None);
    thread_local! {
        static STREAM: RefCell<Option<([u8; 32], u64)>> = const { RefCell::new(None) };
    }
    STREAM.with(|stream| {
        let mut stream = stream.borrow_mut();
        let (key, counter) = stream.get_or_insert_with(|| {
            let seed = test_seed();
            let name = std::thread::current()
                .name()
                .unwrap_or("unnamed")
                .to_string();
            let nth = {
                let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
                let count = seen
                    .get_or_insert_with(HashMap::new)
                    .entry(name.clone())
                    .or_default();
                *count += 1;
                *count - 1
            };
            eprintln!("random test values: TEST_SEED={seed} (thread {name}, stream {nth})");
            let key = sha2::Sha256::new()
                .chain_update(seed.to_le_bytes())
                .chain_update(nth.to_le_bytes())
                .chain_update(name.as_bytes())
                .finalize();
            (key.into(), 0)
        });
        let mut out = Vec::with_capacity(n + 32);
        while out.len() < n {
            let block = sha2::Sha256::new()
                .chain_update(*key)
                .chain_update(counter.to_le_bytes())
                .finalize();
            *counter += 1;
            out.extend_from_slice(&block);
        }
        out.truncate(n);
        out
    })
}

/// `n` random bytes as lowercase hex.
pub fn random_hex(n: usize) -> String {
    hex::encode(random_bytes(n))
}

/// `n` random characters from `alphabet`.
pub fn random_from(alphabet: &str, n: usize) -> String {
    let chars: Vec<char> = alphabet.chars().collect();
    random_bytes(n)
        .iter()
        .map(|b| chars[usize::from(*b) % chars.len()])
        .collect()
}

/// Upper- and lower-case letters and digits, without `x` and `X`: a random
/// secret must never hold `xxxx`, which the redaction engine rightly reads
/// as a placeholder (a CI run drew `Zqi1mSv1CDtXxxxJ`).
pub const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWYZabcdefghijklmnopqrstuvwyz0123456789";
