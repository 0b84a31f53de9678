//! User passwords: argon2id with OWASP's parameters, hashed and verified off the async runtime.
//! The one place passwords are hashed or checked: the admin API (setting a password) and the
//! token service's sign-in (`AuthenticateUser`, for the login UI) both call this module.
//!
//! Passwords are low-entropy, so unlike client secrets they get a deliberately slow, memory-hard
//! hash. One hash takes tens of milliseconds of CPU, which would stall every other request on a
//! runtime worker, so both directions run on `tokio::task::spawn_blocking`, at most one per CPU
//! at a time ([`hashing_slot`]), each in argon2 working memory kept from the previous
//! computation ([`MemoryPool`]).
//!
//! Two argon2 crates, each for what it does best: `argon2` parses and writes PHC strings and
//! checks parameters; `argon2-rust` computes ([`argon2_into`]). The latter is a port of the
//! reference implementation with runtime-selected SIMD fills, bit-exact with it, and computes
//! OWASP's parameters in about 70 % of the time `argon2`'s own fill takes (15.5 ms against
//! 21.5 ms on the benchmark machine): every sign-in pays this, so it is the login's speed. The
//! unit tests below check both directions against `argon2`'s own hasher and verifier.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Params, Version};
use gatehouse_core::password_hash::{PasswordHashFormat, Pbkdf2Digest, parse_password_hash};
use gatehouse_core::secret::SecretString;
use subtle::ConstantTimeEq as _;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// The turn to run one argon2 computation: one of as many permits as CPUs this process may use,
/// and the working memory to run it in.
///
/// Each computation holds `memory_kib` (19 MiB by default) for its whole run and is pure CPU, so
/// running more at once than there are CPUs adds no throughput, only memory: in a login storm at
/// concurrency 8 on one core, the blocking pool ran 8 at once and the process grew past 1 GB
/// (glibc keeps each thread's freed 19 MiB blocks in its arena). Waiting here costs a login the
/// same time it would have spent sharing the CPU.
async fn hashing_slot() -> Result<HashingSlot, PasswordError> {
    static SLOTS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    let slots = SLOTS.get_or_init(|| {
        let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        Arc::new(Semaphore::new(cpus))
    });
    let permit = Arc::clone(slots)
        .acquire_owned()
        .await
        .map_err(|_| PasswordError::Task)?;
    Ok(HashingSlot::take(permit, &MEMORY))
}

static MEMORY: MemoryPool = MemoryPool::new();

/// argon2 working memory: `argon2-rust`'s hasher, which keeps its arena between computations
/// (wiped after each) and grows it when a computation needs more.
type Argon2Memory = argon2_rust::Hasher;

/// Memory that holds nothing yet: the first computation allocates it.
fn empty_memory() -> Argon2Memory {
    argon2_rust::Argon2::new(
        argon2_rust::Algorithm::Argon2id,
        argon2_rust::Version::V0x13,
        argon2_rust::Params::OWASP,
    )
    .hasher()
}

/// A hashing slot's permit and the argon2 memory it checked out, which goes back to the pool
/// when the slot is dropped.
struct HashingSlot {
    memory: Argon2Memory,
    pool: &'static MemoryPool,
    // Dropped after `drop` below has returned the memory, so whoever takes the permit next finds
    // it in the pool instead of allocating another.
    _permit: OwnedSemaphorePermit,
}

impl HashingSlot {
    fn take(permit: OwnedSemaphorePermit, pool: &'static MemoryPool) -> Self {
        Self {
            memory: pool.check_out(),
            pool,
            _permit: permit,
        }
    }
}

impl Drop for HashingSlot {
    fn drop(&mut self) {
        self.pool
            .give_back(std::mem::replace(&mut self.memory, empty_memory()));
    }
}

/// argon2 working memory kept between computations, at most one buffer per hashing slot.
///
/// Allocating argon2's 19 MiB for every verification and freeing it after costs a third more
/// than the hash itself (18.7 ms against 14.0 ms standalone): the allocation is a fresh mapping
/// (`return_large_blocks_to_the_os` in the `gatehouse` binary), so each of its 4,864 pages
/// faults and is zeroed by the kernel. Kept memory is faulted in once.
///
/// Why a pool checked out with the semaphore's permit rather than a buffer per thread: the
/// blocking pool has up to hundreds of threads and any of them may run a computation, so
/// per-thread buffers would add up to 19 MiB for every thread that ever hashed, while checking
/// out with a permit bounds them by the permits: at most one buffer per CPU (19 MiB each with
/// the default parameters).
///
/// `argon2-rust` wipes the memory after each computation (its `zeroize-memory` feature), so a
/// kept buffer holds nothing of the last password's computation.
///
/// Kept only while logins keep coming: a buffer unused for [`KEPT_WHILE_IDLE`] is freed (by a
/// task that runs only while buffers are kept), so an idle server holds none of this, while a
/// busy one, where the saving matters, never lets its buffers go. A login after a quiet spell
/// pays the allocation again, as every login did before.
///
/// A buffer only grows (to the largest `m_cost` its slot has computed), and one over
/// [`KEPT_BLOCKS_MAX`] is freed after its computation instead of kept, so verifying an imported
/// hash with a large memory cost (up to `MAX_ARGON2_MEMORY_KIB`, 128 MiB) costs its memory only
/// while it runs, as before.
struct MemoryPool {
    state: Mutex<PoolState>,
}

struct PoolState {
    /// Free buffers with the time each was given back; the most recently used last.
    buffers: Vec<(Argon2Memory, Instant)>,
    /// Whether a task is running that frees idle buffers.
    trimming: bool,
}

/// The largest buffer kept, in argon2 blocks of 1 KiB: 46 MiB, the largest memory cost among
/// OWASP's argon2id options (m=47104, t=1), so every configuration it recommends runs in kept
/// memory.
const KEPT_BLOCKS_MAX: usize = 47_104;

/// How long a buffer is kept unused. Two logins a second keep one buffer; what a slower rate
/// pays again per login (the page faults of 19 MiB, about 5 ms of CPU) is then under 1 % of a
/// CPU.
const KEPT_WHILE_IDLE: Duration = Duration::from_millis(500);

impl MemoryPool {
    const fn new() -> Self {
        Self {
            state: Mutex::new(PoolState {
                buffers: Vec::new(),
                trimming: false,
            }),
        }
    }

    /// A poisoned lock only means a panic elsewhere while it was held; the list is still whole.
    fn state(&self) -> std::sync::MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The most recently used free buffer, or an empty one (grown by [`argon2_into`]) when
    /// none is free.
    fn check_out(&self) -> Argon2Memory {
        self.state()
            .buffers
            .pop()
            .map_or_else(empty_memory, |(memory, _)| memory)
    }

    fn give_back(&'static self, memory: Argon2Memory) {
        let blocks = memory.reserved_blocks();
        if blocks == 0 || blocks > KEPT_BLOCKS_MAX {
            return;
        }
        let mut state = self.state();
        state.buffers.push((memory, Instant::now()));
        // Outside a runtime (never the case in the server) nothing frees buffers, so none is kept.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            state.buffers.clear();
            return;
        };
        if !state.trimming {
            state.trimming = true;
            runtime.spawn(async move {
                loop {
                    tokio::time::sleep(KEPT_WHILE_IDLE).await;
                    if !self.free_idle() {
                        break;
                    }
                }
            });
        }
    }

    /// Frees the buffers unused for [`KEPT_WHILE_IDLE`]; whether any is still kept (if not, the
    /// trimming task ends, and the next buffer given back starts another).
    fn free_idle(&self) -> bool {
        let (idle, still_kept): (Vec<_>, bool) = {
            let mut state = self.state();
            let (idle, kept) = std::mem::take(&mut state.buffers)
                .into_iter()
                .partition(|(_, used)| used.elapsed() >= KEPT_WHILE_IDLE);
            state.buffers = kept;
            state.trimming = !state.buffers.is_empty();
            (idle, state.trimming)
        };
        // Unmapping 19 MiB happens after the lock is released.
        drop(idle);
        still_kept
    }
}

/// Runs argon2 (`algorithm`, `version`, `params`: as the `argon2` crate parsed or built them)
/// over `password` and `salt` into `out`, in `memory`, which grows first if the parameters need
/// more blocks than it has (the smaller arena is freed before the larger is allocated). The
/// output length is `out`'s; `params`' associated data (`data=` in a PHC string) is hashed in
/// as the `argon2` crate does.
fn argon2_into(
    algorithm: Algorithm,
    version: Version,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
    memory: &mut Argon2Memory,
) -> Result<(), PasswordError> {
    use argon2_rust::params::{Memory, ParamsBuilder, TagLen};
    let hash_error = |e: argon2_rust::Error| PasswordError::Hash(e.to_string());
    let rust_params = ParamsBuilder::DEFAULT
        .memory(Memory::kib(u64::from(params.m_cost())))
        .passes(params.t_cost())
        .lanes(params.p_cost())
        .tag_len(TagLen::bytes(out.len() as u64))
        .build()
        .map_err(hash_error)?;
    let rust_algorithm = match algorithm {
        Algorithm::Argon2d => argon2_rust::Algorithm::Argon2d,
        Algorithm::Argon2i => argon2_rust::Algorithm::Argon2i,
        Algorithm::Argon2id => argon2_rust::Algorithm::Argon2id,
    };
    let rust_version = match version {
        Version::V0x10 => argon2_rust::Version::V0x10,
        Version::V0x13 => argon2_rust::Version::V0x13,
    };
    memory.set_argon2(argon2_rust::Argon2::new(
        rust_algorithm,
        rust_version,
        rust_params,
    ));
    memory
        .hash_into_with_ad(password, salt, &[], params.data(), out)
        .map_err(hash_error)
}

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordHashParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for PasswordHashParams {
    /// OWASP Password Storage Cheat Sheet: argon2id, m=19456 KiB (19 MiB), t=2, p=1.
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl PasswordHashParams {
    /// Checks the parameters are ones argon2 accepts, so a bad configuration fails at start-up
    /// rather than at the first password.
    pub fn validate(&self) -> Result<(), PasswordError> {
        self.to_argon2().map(drop)
    }

    fn to_argon2(self) -> Result<Argon2<'static>, PasswordError> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| PasswordError::Params(e.to_string()))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("invalid argon2 parameters: {0}")]
    Params(String),
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("the stored password hash is not a valid PHC string")]
    MalformedHash,
    #[error("the password hashing task did not complete")]
    Task,
}

/// The argon2id PHC string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`) of `password`, with
/// a fresh random salt.
pub async fn hash_password(
    password: SecretString,
    params: PasswordHashParams,
) -> Result<String, PasswordError> {
    let mut slot = hashing_slot().await?;
    tokio::task::spawn_blocking(move || {
        hash_argon2id(password.expose().as_bytes(), params, &mut slot.memory)
    })
    .await
    .map_err(|_| PasswordError::Task)?
}

fn hash_argon2id(
    password: &[u8],
    params: PasswordHashParams,
    memory: &mut Argon2Memory,
) -> Result<String, PasswordError> {
    let argon2 = params.to_argon2()?;
    let salt = argon2::password_hash::try_generate_salt()
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2_into(
        Algorithm::Argon2id,
        Version::V0x13,
        argon2.params(),
        password,
        &salt,
        &mut out,
        memory,
    )?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon2.params())
            .map_err(|e| PasswordError::Hash(e.to_string()))?,
        salt: Some(Salt::new(&salt).map_err(|e| PasswordError::Hash(e.to_string()))?),
        hash: Some(Output::new(&out).map_err(|e| PasswordError::Hash(e.to_string()))?),
    };
    Ok(hash.to_string())
}

/// Whether `password` matches `phc`, using the parameters recorded in `phc` (so raising the
/// configured cost never locks out existing users). The comparison is constant-time.
///
/// Besides argon2id, `phc` may be any hash `users import` accepts
/// (`gatehouse_core::password_hash`): bcrypt, argon2i, PBKDF2-SHA-256/512 (PHC, passlib,
/// Django) or scrypt, each verified with its own algorithm, within the same cost bounds the
/// import checked (a stored hash beyond them is refused as malformed, never computed).
pub async fn verify_password(password: SecretString, phc: String) -> Result<bool, PasswordError> {
    let format = parse_password_hash(&phc).map_err(|_| PasswordError::MalformedHash)?;
    let mut slot = hashing_slot().await?;
    tokio::task::spawn_blocking(move || {
        verify_blocking(password.expose().as_bytes(), &phc, format, &mut slot.memory)
    })
    .await
    .map_err(|_| PasswordError::Task)?
}

fn verify_blocking(
    password: &[u8],
    phc: &str,
    format: PasswordHashFormat,
    argon2_memory: &mut Argon2Memory,
) -> Result<bool, PasswordError> {
    match format {
        PasswordHashFormat::Argon2 { .. } => verify_argon2(password, phc, argon2_memory),
        // bcrypt reads at most 72 bytes of a password, as every bcrypt does.
        PasswordHashFormat::Bcrypt { .. } => {
            bcrypt::verify(password, phc).map_err(|e| PasswordError::Hash(e.to_string()))
        }
        PasswordHashFormat::Pbkdf2 {
            digest,
            iterations,
            salt,
            hash,
        } => {
            let mut out = vec![0u8; hash.len()];
            match digest {
                Pbkdf2Digest::Sha256 => {
                    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password, &salt, iterations, &mut out);
                }
                Pbkdf2Digest::Sha512 => {
                    pbkdf2::pbkdf2_hmac::<sha2::Sha512>(password, &salt, iterations, &mut out);
                }
            }
            Ok(bool::from(out.ct_eq(&hash)))
        }
        PasswordHashFormat::Scrypt {
            log_n,
            r,
            p,
            salt,
            hash,
        } => {
            let params =
                scrypt::Params::new(log_n, r, p).map_err(|e| PasswordError::Hash(e.to_string()))?;
            let mut out = vec![0u8; hash.len()];
            scrypt::scrypt(password, &salt, &params, &mut out)
                .map_err(|e| PasswordError::Hash(e.to_string()))?;
            Ok(bool::from(out.ct_eq(&hash)))
        }
    }
}

/// What `argon2`'s own `PasswordVerifier` does (algorithm, version, parameters, salt and output
/// length from `phc`; a missing version is 0x13), computed in `memory`.
fn verify_argon2(
    password: &[u8],
    phc: &str,
    memory: &mut Argon2Memory,
) -> Result<bool, PasswordError> {
    let parsed = PasswordHash::new(phc).map_err(|_| PasswordError::MalformedHash)?;
    let algorithm =
        Algorithm::try_from(parsed.algorithm.as_str()).map_err(|_| PasswordError::MalformedHash)?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(|_| PasswordError::MalformedHash)?
        .unwrap_or_default();
    let params = Params::try_from(&parsed).map_err(|_| PasswordError::MalformedHash)?;
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return Err(PasswordError::MalformedHash);
    };
    let mut buffer = [0u8; Output::MAX_LENGTH];
    let out = buffer
        .get_mut(..expected.len())
        .ok_or(PasswordError::MalformedHash)?;
    argon2_into(algorithm, version, &params, password, salt, out, memory)?;
    Ok(bool::from(out.ct_eq(expected.as_bytes())))
}

/// Whether `phc` is not argon2id (an imported hash, or argon2i), so the sign-in that just
/// verified the password re-hashes it.
pub fn is_foreign(phc: &str) -> bool {
    !phc.starts_with("$argon2id$")
}

/// Whether `phc` was made with other parameters than `params` (or another algorithm), so the
/// sign-in flow can re-hash the password it just verified.
pub fn needs_rehash(phc: &str, params: PasswordHashParams) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return true;
    };
    if parsed.algorithm.as_str() != "argon2id" {
        return true;
    }
    match Params::try_from(&parsed) {
        Ok(p) => {
            p.m_cost() != params.memory_kib
                || p.t_cost() != params.iterations
                || p.p_cost() != params.parallelism
        }
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cheap parameters keep the unit tests fast; the defaults are exercised by the admin tests.
    const CHEAP: PasswordHashParams = PasswordHashParams {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };

    #[tokio::test]
    async fn hash_verifies_and_rejects_wrong_passwords() {
        let hash = hash_password(SecretString::new("correct horse"), CHEAP).await;
        let Ok(hash) = hash else { panic!("{hash:?}") };
        assert!(hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert!(!hash.contains("correct horse"));
        assert!(matches!(
            verify_password(SecretString::new("correct horse"), hash.clone()).await,
            Ok(true)
        ));
        assert!(matches!(
            verify_password(SecretString::new("wrong horse"), hash).await,
            Ok(false)
        ));
    }

    #[tokio::test]
    async fn same_password_gets_a_new_salt_each_time() {
        let a = hash_password(SecretString::new("pw-12345"), CHEAP)
            .await
            .ok();
        let b = hash_password(SecretString::new("pw-12345"), CHEAP)
            .await
            .ok();
        assert!(a.is_some() && a != b);
    }

    #[tokio::test]
    async fn malformed_hash_is_an_error_not_a_match() {
        assert!(matches!(
            verify_password(SecretString::new("x"), "not-a-phc-string".to_owned()).await,
            Err(PasswordError::MalformedHash)
        ));
    }

    #[tokio::test]
    async fn rehash_is_needed_when_parameters_change() {
        let hash = hash_password(SecretString::new("pw-12345"), CHEAP)
            .await
            .unwrap_or_default();
        assert!(!needs_rehash(&hash, CHEAP));
        assert!(needs_rehash(&hash, PasswordHashParams::default()));
        assert!(needs_rehash("garbage", CHEAP));
    }

    /// Each format made by its reference library (tests/fixtures/password-hashes) verifies its
    /// password, refuses another, and counts as foreign (re-hashed at sign-in).
    #[tokio::test]
    async fn every_imported_format_verifies_with_its_own_algorithm() {
        let fixtures = include_str!("../../../tests/fixtures/password-hashes/hashes.jsonl");
        let mut formats = Vec::new();
        for line in fixtures.lines().filter(|l| !l.trim().is_empty()) {
            let Ok(f) = serde_json::from_str::<serde_json::Value>(line) else {
                panic!("{line}")
            };
            let (Some(format), Some(password), Some(hash)) = (
                f["format"].as_str(),
                f["password"].as_str(),
                f["hash"].as_str(),
            ) else {
                panic!("{line}")
            };
            let right = verify_password(SecretString::new(password), hash.to_owned()).await;
            assert!(matches!(right, Ok(true)), "{format}: {right:?}");
            let wrong =
                verify_password(SecretString::new("not the password"), hash.to_owned()).await;
            assert!(matches!(wrong, Ok(false)), "{format}: {wrong:?}");
            assert_eq!(is_foreign(hash), format != "argon2id", "{format}");
            formats.push(format.to_owned());
        }
        for expected in [
            "bcrypt-2a",
            "bcrypt-2b",
            "bcrypt-2y",
            "argon2id",
            "argon2i",
            "pbkdf2-sha256-passlib",
            "pbkdf2-sha512-passlib",
            "pbkdf2-sha256-phc",
            "pbkdf2-sha512-phc",
            "pbkdf2-sha256-django",
            "scrypt-passlib",
            "scrypt-phc",
        ] {
            assert!(formats.iter().any(|f| f == expected), "{expected} missing");
        }
    }

    /// A stored hash beyond the import's cost bounds (written to the database by other means)
    /// is refused as malformed, never computed.
    #[tokio::test]
    async fn a_stored_hash_with_an_absurd_cost_is_not_computed() {
        for hash in [
            "$2b$31$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
            "$pbkdf2-sha256$i=4000000000,l=32$c2FsdHNhbHQ$7OVfNaehgeZ0pYI6eHJgKr2o2nEGa3VS+qr2cBQvPIA",
            "$scrypt$ln=24,r=64,p=1$c2FsdHNhbHQ$7OVfNaehgeZ0pYI6eHJgKr2o2nEGa3VS+qr2cBQvPIA",
        ] {
            let started = std::time::Instant::now();
            let answer = verify_password(SecretString::new("x"), hash.to_owned()).await;
            assert!(
                matches!(answer, Err(PasswordError::MalformedHash)),
                "{hash}: {answer:?}"
            );
            assert!(started.elapsed() < std::time::Duration::from_secs(1));
        }
    }

    /// What the `argon2` crate itself makes and checks, allocating its own memory: the reference
    /// the reused-memory path must agree with.
    fn reference_hash(password: &str, algorithm: Algorithm, params: PasswordHashParams) -> String {
        use argon2::PasswordHasher as _;
        let Ok(argon2_params) = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            None,
        ) else {
            panic!("{params:?}")
        };
        let hash = Argon2::new(algorithm, Version::V0x13, argon2_params)
            .hash_password(password.as_bytes())
            .map(|h| h.to_string());
        let Ok(hash) = hash else { panic!("{hash:?}") };
        hash
    }

    fn reference_verifies(password: &str, phc: &str) -> bool {
        use argon2::PasswordVerifier as _;
        let Ok(parsed) = PasswordHash::new(phc) else {
            panic!("{phc}")
        };
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    }

    fn params(memory_kib: u32, iterations: u32, parallelism: u32) -> PasswordHashParams {
        PasswordHashParams {
            memory_kib,
            iterations,
            parallelism,
        }
    }

    #[tokio::test]
    async fn a_hash_made_in_reused_memory_verifies_with_the_argon2_crate() {
        for p in [CHEAP, params(256, 2, 2), PasswordHashParams::default()] {
            let hash = hash_password(SecretString::new("correct horse"), p).await;
            let Ok(hash) = hash else { panic!("{hash:?}") };
            assert!(hash.starts_with(&format!(
                "$argon2id$v=19$m={},t={},p={}$",
                p.memory_kib, p.iterations, p.parallelism
            )));
            assert!(reference_verifies("correct horse", &hash), "{hash}");
            assert!(!reference_verifies("wrong horse", &hash), "{hash}");
        }
    }

    #[tokio::test]
    async fn a_hash_made_by_the_argon2_crate_verifies_in_reused_memory() {
        for p in [CHEAP, params(256, 2, 2), PasswordHashParams::default()] {
            for algorithm in [Algorithm::Argon2id, Algorithm::Argon2i] {
                let hash = reference_hash("correct horse", algorithm, p);
                assert!(
                    matches!(
                        verify_password(SecretString::new("correct horse"), hash.clone()).await,
                        Ok(true)
                    ),
                    "{hash}"
                );
                assert!(
                    matches!(
                        verify_password(SecretString::new("wrong horse"), hash.clone()).await,
                        Ok(false)
                    ),
                    "{hash}"
                );
            }
        }
    }

    /// The argon2 crate's own PHC vectors (adapted from libargon2's `test.c`: a longer salt,
    /// argon2d, the older version 0x10, `keyid` and `data` parameters, p=3) and a hash with a
    /// non-default output length verify as the crate's verifier verifies them.
    #[test]
    fn argon2_variants_verify_like_the_argon2_crate() {
        let mut memory = empty_memory();
        let short_output = {
            use argon2::PasswordHasher as _;
            let Ok(p) = Params::new(64, 1, 1, Some(24)) else {
                panic!("params")
            };
            let hash = Argon2::new(Algorithm::Argon2id, Version::V0x13, p)
                .hash_password(b"password")
                .map(|h| h.to_string());
            let Ok(hash) = hash else { panic!("{hash:?}") };
            hash
        };
        for phc in [
            "$argon2i$v=19$m=65536,t=1,p=1$c29tZXNhbHQAAAAAAAAAAA$+r0d29hqEB0yasKr55ZgICsQGSkl0v0kgwhd+U3wyRo",
            "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
            "$argon2d$v=19$m=65536,t=2,p=1,keyid=8PDw8A$YzI5dFpYTmhiSFFBQUFBQUFBQUFBQQ$Jxy74cswY2mq9y+u+iJcJy8EqOp4t/C7DWDzGwGB3IM",
            "$argon2d$v=16$m=32,t=2,p=3,keyid=8PDw8A,data=Dw8PDw8P$AAAAAAAAAAA$KnH4gniiaFnDvlA1xev3yovC4cnrrI6tnHOYtmja90o",
            short_output.as_str(),
        ] {
            assert!(reference_verifies("password", phc), "{phc}");
            let ours = verify_argon2(b"password", phc, &mut memory);
            assert!(matches!(ours, Ok(true)), "{phc}: {ours:?}");
            let wrong = verify_argon2(b"sassword", phc, &mut memory);
            assert!(matches!(wrong, Ok(false)), "{phc}: {wrong:?}");
        }
    }

    /// One buffer through memory costs up, down and up again: it grows to the largest, and a
    /// smaller computation after a larger one is still right (it uses the buffer's front only).
    #[test]
    fn one_buffer_serves_memory_costs_in_any_order() {
        let mut memory = empty_memory();
        let mut largest = 0;
        for kib in [64, 1024, 64, 256, 2048, 128] {
            let p = params(kib, 1, 1);
            let hash = hash_argon2id(b"pw-12345", p, &mut memory);
            let Ok(hash) = hash else { panic!("{hash:?}") };
            largest = largest.max(kib as usize);
            assert_eq!(memory.reserved_blocks(), largest, "m={kib}");
            assert!(reference_verifies("pw-12345", &hash), "m={kib}: {hash}");
            let reference = reference_hash("pw-12345", Algorithm::Argon2id, p);
            assert!(
                matches!(
                    verify_argon2(b"pw-12345", &reference, &mut memory),
                    Ok(true)
                ),
                "m={kib}"
            );
            assert!(
                matches!(
                    verify_argon2(b"pw-1234", &reference, &mut memory),
                    Ok(false)
                ),
                "m={kib}"
            );
            assert_eq!(memory.reserved_blocks(), largest, "m={kib}");
        }
    }

    fn leaked_pool() -> &'static MemoryPool {
        Box::leak(Box::new(MemoryPool::new()))
    }

    /// Memory that holds `blocks` blocks (KiB), as a computation with `m=blocks` leaves it.
    fn memory_of(blocks: u32) -> Argon2Memory {
        let mut memory = empty_memory();
        if blocks > 0 {
            let p = argon2_rust::params::ParamsBuilder::DEFAULT
                .memory(argon2_rust::params::Memory::kib(u64::from(blocks)))
                .build();
            let Ok(p) = p else { panic!("{p:?}") };
            memory.set_argon2(argon2_rust::Argon2::new(
                argon2_rust::Algorithm::Argon2id,
                argon2_rust::Version::V0x13,
                p,
            ));
            assert!(memory.reserve().is_ok());
        }
        assert_eq!(memory.reserved_blocks(), blocks as usize);
        memory
    }

    #[tokio::test(start_paused = true)]
    async fn the_pool_keeps_buffers_up_to_the_largest_owasp_cost_only() {
        let pool = leaked_pool();
        assert_eq!(pool.check_out().reserved_blocks(), 0);
        pool.give_back(memory_of(64));
        pool.give_back(memory_of(KEPT_BLOCKS_MAX as u32));
        pool.give_back(memory_of(KEPT_BLOCKS_MAX as u32 + 4));
        pool.give_back(memory_of(0));
        assert_eq!(pool.check_out().reserved_blocks(), KEPT_BLOCKS_MAX);
        assert_eq!(pool.check_out().reserved_blocks(), 64);
        assert_eq!(pool.check_out().reserved_blocks(), 0);
    }

    /// Buffers in use stay; once none has been used for a while they are freed, and the task
    /// that frees them ends until memory is given back again.
    #[tokio::test(start_paused = true)]
    async fn kept_memory_is_freed_once_logins_stop() {
        let pool = leaked_pool();
        pool.give_back(memory_of(64));
        pool.give_back(memory_of(128));
        for _ in 0..4 {
            tokio::time::sleep(KEPT_WHILE_IDLE / 2).await;
            let busy = pool.check_out();
            assert_eq!(busy.reserved_blocks(), 128);
            pool.give_back(busy);
        }
        // The buffer nobody used for two periods is gone; the busy one is still kept.
        assert_eq!(pool.state().buffers.len(), 1);
        tokio::time::sleep(KEPT_WHILE_IDLE * 3).await;
        {
            let state = pool.state();
            assert!(state.buffers.is_empty() && !state.trimming);
        }
        pool.give_back(memory_of(64));
        assert!(pool.state().trimming);
        tokio::time::sleep(KEPT_WHILE_IDLE * 3).await;
        assert!(pool.state().buffers.is_empty());
    }

    /// A slot's memory goes back to its pool when the slot ends, so the next computation finds
    /// it there rather than allocating another.
    #[tokio::test]
    async fn a_slot_returns_its_memory_for_the_next_one() {
        let pool = leaked_pool();
        let permits = Arc::new(Semaphore::new(1));
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
            panic!("no permit")
        };
        let mut slot = HashingSlot::take(permit, pool);
        let memory = hash_argon2id(b"pw-12345", CHEAP, &mut slot.memory);
        assert!(memory.is_ok(), "{memory:?}");
        assert_eq!(slot.memory.reserved_blocks(), 64);
        drop(slot);
        assert_eq!(pool.state().buffers.len(), 1);
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
            panic!("no permit")
        };
        let again = HashingSlot::take(permit, pool);
        assert_eq!(again.memory.reserved_blocks(), 64);
        assert!(pool.state().buffers.is_empty());
    }

    #[test]
    fn defaults_are_owasp_and_valid() {
        let p = PasswordHashParams::default();
        assert_eq!((p.memory_kib, p.iterations, p.parallelism), (19456, 2, 1));
        assert!(p.validate().is_ok());
        assert!(
            PasswordHashParams {
                memory_kib: 1,
                iterations: 0,
                parallelism: 0
            }
            .validate()
            .is_err()
        );
    }
}
