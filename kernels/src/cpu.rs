//! CPU feature detection: done once, cached, and capped by `RAWARROW_KERNELS`.
//!
//! [`detected`] is what the hardware supports; [`level`] is what dispatch uses: the detected level
//! capped by the environment variable `RAWARROW_KERNELS` (`scalar`, `ssse3`, `avx2`,
//! `avx512f`, `avx512bw`, `avx512`, or `neon`), read once on first use. Capping lets tests and benchmarks force each path on a
//! machine that has them all. When `cfg!(target_feature = ...)` already guarantees a feature
//! (a `-C target-cpu` build), detection short-circuits.

use std::sync::atomic::{AtomicU8, Ordering};

/// An instruction-set level, ordered from least to most capable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Level {
    /// Portable Rust, no SIMD intrinsics.
    Scalar = 1,
    /// x86-64 SSSE3 + SSE4.1 (128-bit), or aarch64 NEON (128-bit).
    Simd128 = 2,
    /// x86-64 AVX2 (256-bit) with BMI1/BMI2.
    Avx2 = 3,
    /// x86-64 AVX-512 F without BW or VL (Knights Landing): the 512-bit kernels on 32- and
    /// 64-bit lanes (delta, runs, calibration).
    Avx512F = 4,
    /// x86-64 AVX-512 F/BW/VL without VBMI (Skylake-SP, Cascade Lake): the byte kernels too
    /// (quality, aux strings, onsets).
    Avx512Bw = 5,
    /// x86-64 AVX-512 F/BW/VL/VBMI (Ice Lake and later, Zen 4): every 512-bit kernel, the
    /// sequence decoder and the unshuffle too.
    Avx512 = 6,
}

impl Level {
    /// Name used by `RAWARROW_KERNELS` and in benchmark ids.
    pub fn name(self) -> &'static str {
        match self {
            Level::Scalar => "scalar",
            Level::Simd128 if cfg!(target_arch = "aarch64") => "neon",
            Level::Simd128 => "ssse3",
            Level::Avx2 => "avx2",
            Level::Avx512F => "avx512f",
            Level::Avx512Bw => "avx512bw",
            Level::Avx512 => "avx512",
        }
    }

    /// Parses a `RAWARROW_KERNELS` value.
    pub fn parse(s: &str) -> Option<Level> {
        match s.trim().to_ascii_lowercase().as_str() {
            "scalar" | "none" | "generic" => Some(Level::Scalar),
            "ssse3" | "sse4.1" | "sse41" | "neon" | "simd128" => Some(Level::Simd128),
            "avx2" => Some(Level::Avx2),
            "avx512f" | "avx512-f" => Some(Level::Avx512F),
            "avx512bw" | "avx512-bw" => Some(Level::Avx512Bw),
            "avx512" | "avx-512" | "avx512vbmi" => Some(Level::Avx512),
            _ => None,
        }
    }

    fn from_u8(v: u8) -> Level {
        match v {
            2 => Level::Simd128,
            3 => Level::Avx2,
            4 => Level::Avx512F,
            5 => Level::Avx512Bw,
            6 => Level::Avx512,
            _ => Level::Scalar,
        }
    }
}

/// Whether the CPU has the 128-bit level (x86-64: SSSE3 and SSE4.1; aarch64: NEON).
#[inline]
pub fn has_simd128() -> bool {
    detected() >= Level::Simd128
}

/// Whether the CPU has AVX2 (with BMI1/BMI2 and POPCNT).
#[inline]
pub fn has_avx2() -> bool {
    detected() >= Level::Avx2
}

/// Whether the CPU has AVX-512 F.
#[inline]
pub fn has_avx512f() -> bool {
    detected() >= Level::Avx512F
}

/// Whether the CPU has AVX-512 F, BW and VL.
#[inline]
pub fn has_avx512bw() -> bool {
    detected() >= Level::Avx512Bw
}

/// Whether the CPU has AVX-512 F, BW, VL and VBMI.
#[inline]
pub fn has_avx512() -> bool {
    detected() >= Level::Avx512
}

static DETECTED: AtomicU8 = AtomicU8::new(0);
static LEVEL: AtomicU8 = AtomicU8::new(0);

/// The highest level the hardware supports (detected once, then cached).
pub fn detected() -> Level {
    let v = DETECTED.load(Ordering::Relaxed);
    if v != 0 {
        return Level::from_u8(v);
    }
    let l = detect_hardware();
    DETECTED.store(l as u8, Ordering::Relaxed);
    l
}

/// `RAWARROW_KERNELS` when it is set and not blank.
fn env_cap() -> Option<String> {
    std::env::var("RAWARROW_KERNELS")
        .ok()
        .filter(|s| !s.trim().is_empty())
}

/// Checks `RAWARROW_KERNELS`: unset or blank is fine (no cap); a value that names no level is
/// an error naming the valid ones (dispatch alone would ignore it: the readers call this when
/// they open, so a typo is a usage error, not a silent full-speed run).
pub fn check_env() -> Result<(), String> {
    match env_cap() {
        Some(v) if Level::parse(&v).is_none() => Err(format!(
            "RAWARROW_KERNELS={v:?} names no kernel level; expected one of scalar, ssse3, \
             avx2, avx512f, avx512bw, avx512, neon (or unset it)"
        )),
        _ => Ok(()),
    }
}

/// The level dispatch uses: [`detected`] capped by `RAWARROW_KERNELS` (read once).
pub fn level() -> Level {
    let v = LEVEL.load(Ordering::Relaxed);
    if v != 0 {
        return Level::from_u8(v);
    }
    let hw = detected();
    let cap = env_cap()
        .and_then(|s| Level::parse(&s))
        .unwrap_or(Level::Avx512);
    let l = hw.min(cap);
    LEVEL.store(l as u8, Ordering::Relaxed);
    l
}

#[cfg(target_arch = "x86_64")]
fn detect_hardware() -> Level {
    macro_rules! has {
        ($f:tt) => {
            cfg!(target_feature = $f) || std::arch::is_x86_feature_detected!($f)
        };
    }
    if !(has!("ssse3") && has!("sse4.1")) {
        return Level::Scalar;
    }
    if !(has!("avx2") && has!("bmi1") && has!("bmi2") && has!("popcnt")) {
        return Level::Simd128;
    }
    if !has!("avx512f") {
        return Level::Avx2;
    }
    if !(has!("avx512bw") && has!("avx512vl")) {
        return Level::Avx512F;
    }
    if has!("avx512vbmi") {
        Level::Avx512
    } else {
        Level::Avx512Bw
    }
}

#[cfg(target_arch = "aarch64")]
fn detect_hardware() -> Level {
    if cfg!(target_feature = "neon") || std::arch::is_aarch64_feature_detected!("neon") {
        Level::Simd128
    } else {
        Level::Scalar
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn detect_hardware() -> Level {
    Level::Scalar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for l in [
            Level::Scalar,
            Level::Simd128,
            Level::Avx2,
            Level::Avx512F,
            Level::Avx512Bw,
            Level::Avx512,
        ] {
            assert_eq!(Level::parse(l.name()), Some(l));
            assert_eq!(Level::from_u8(l as u8), l);
        }
        assert_eq!(Level::parse("bogus"), None);
    }

    /// Detection agrees with the operating system's own view of the CPU (the `flags` line of
    /// `/proc/cpuinfo`), and dispatch uses it capped by `RAWARROW_KERNELS`.
    #[test]
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    fn detection_agrees_with_proc_cpuinfo() {
        let info = std::fs::read_to_string("/proc/cpuinfo").expect("/proc/cpuinfo");
        let flags: Vec<&str> = info
            .lines()
            .find(|l| l.starts_with("flags"))
            .and_then(|l| l.split(':').nth(1))
            .expect("flags line")
            .split_whitespace()
            .collect();
        let all = |names: &[&str]| names.iter().all(|n| flags.contains(n));
        let expect = if !all(&["ssse3", "sse4_1"]) {
            Level::Scalar
        } else if !all(&["avx2", "bmi1", "bmi2", "popcnt"]) {
            Level::Simd128
        } else if !all(&["avx512f"]) {
            Level::Avx2
        } else if !all(&["avx512bw", "avx512vl"]) {
            Level::Avx512F
        } else if !all(&["avx512vbmi"]) {
            Level::Avx512Bw
        } else {
            Level::Avx512
        };
        assert_eq!(detected(), expect, "cpuinfo flags: {flags:?}");
        check_env().expect("a valid RAWARROW_KERNELS");
        let cap = env_cap().map(|v| Level::parse(&v).expect("checked"));
        assert_eq!(level(), cap.map_or(expect, |c| c.min(expect)));
    }
}

#[cfg(test)]
mod level_order {
    use super::*;

    /// The levels order as the features nest, and each `has_*` agrees with the level.
    #[test]
    fn levels_nest() {
        assert!(
            Level::Scalar < Level::Simd128
                && Level::Simd128 < Level::Avx2
                && Level::Avx2 < Level::Avx512F
                && Level::Avx512F < Level::Avx512Bw
                && Level::Avx512Bw < Level::Avx512
        );
        assert_eq!(has_avx2(), detected() >= Level::Avx2);
        assert_eq!(has_avx512f(), detected() >= Level::Avx512F);
        assert_eq!(has_avx512bw(), detected() >= Level::Avx512Bw);
        assert_eq!(has_avx512(), detected() >= Level::Avx512);
    }
}
