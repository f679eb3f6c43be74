use super::*;

#[test]
fn nul_in_finds_the_first_nul() {
    for len in 0..80 {
        for at in 0..=len {
            let mut b = vec![0x80u8; len];
            for (k, x) in b.iter_mut().enumerate() {
                *x = [0x80, 0x01, 0xff, b'A'][k % 4];
            }
            if at < len {
                b[at] = 0;
                if at + 1 < len {
                    b[at + 1] = 0;
                }
            }
            let want = b.iter().position(|&c| c == 0);
            assert_eq!(nul_in(&b), want, "len {len} at {at}");
        }
    }
}

fn float(d: f64) -> String {
    let mut v = Vec::new();
    push_float_kputd(d, &mut v);
    String::from_utf8(v).expect("ascii")
}

fn printf_g(d: f64) -> String {
    let mut v = Vec::new();
    push_float(d, &mut v);
    String::from_utf8(v).expect("ascii")
}

#[test]
fn exact_ties_differ_between_f_and_b_arrays_like_samtools() {
    // `samtools view` (htslib 1.16): XF:f:V vs ZB:B:f,V for the same float32.
    for (v, f, b) in [
        (123456.5, "123456", "123457"),
        (356384.5, "356384", "356385"),
        (12345.25, "12345.2", "12345.3"),
        (2.5, "2.5", "2.5"),
        (65536.5, "65536.5", "65536.5"),
    ] {
        assert_eq!(printf_g(v), f, "%g of {v}");
        assert_eq!(float(v), b, "kputd of {v}");
    }
}

#[test]
#[allow(clippy::excessive_precision)] // the literals samtools was given
fn floats_like_samtools() {
    // Pairs observed from `samtools view` (htslib 1.16) on float32 values.
    for (v, s) in [
        (0.0, "0"),
        (-0.0, "-0"),
        (0.1f32 as f64, "0.1"),
        (0.0001f32 as f64, "0.0001"),
        (0.00009999f32 as f64, "9.999e-05"),
        (0.000123456789f32 as f64, "0.000123457"),
        (123456.7f32 as f64, "123457"),
        (999999.4f32 as f64, "999999"),
        (999999.6f32 as f64, "1e+06"),
        (1234567.0, "1.23457e+06"),
        (1e-10f32 as f64, "1e-10"),
        (-2.5e-7f32 as f64, "-2.5e-07"),
        (100000.0, "100000"),
        (120.5, "120.5"),
        (9.9999999f32 as f64, "10"),
        (0.99999999f32 as f64, "1"),
        (1e30f32 as f64, "1e+30"),
        (7.0000004f32 as f64, "7"),
        (12345.678f32 as f64, "12345.7"),
    ] {
        assert_eq!(float(v), s, "{v:e}");
    }
}

#[test]
fn the_widest_floats_fit_the_stack_buffer() {
    for (v, g) in [
        (f64::from(f32::MAX), "3.40282e+38"),
        (f64::from(-f32::MAX), "-3.40282e+38"),
        (f64::from(f32::MIN_POSITIVE), "1.17549e-38"),
        (f64::from(-f32::MIN_POSITIVE), "-1.17549e-38"),
        (f64::from(f32::from_bits(1)), "1.4013e-45"),
        (f64::from(-0.000_123_456_79_f32), "-0.000123457"),
        (f64::NEG_INFINITY, "-inf"),
    ] {
        let mut small = Small::default();
        push_float(v, &mut small);
        assert_eq!(small.as_bytes(), g.as_bytes(), "%g of {v:e}");
        assert_eq!(printf_g(v), g, "%g of {v:e} into a Vec");
        let mut small = Small::default();
        push_float_kputd(v, &mut small);
        assert_eq!(small.as_bytes(), float(v).as_bytes(), "kputd of {v:e}");
    }
}

#[test]
fn malformed_fields() {
    let bad = |aux: &[u8]| validate(aux).expect_err("malformed");
    // Fewer than 4 bytes left are ignored, as htslib ignores them.
    assert_eq!(validate(b"NM"), Ok(None));
    assert_eq!(validate(b"NMC\x01XZ"), Ok(None));
    assert!(matches!(bad(b"NMi\x01"), RecordError::Aux { at: 0, .. }));
    assert!(matches!(
        bad(b"NMq\x01"),
        RecordError::Aux {
            reason: "unknown aux type code",
            ..
        }
    ));
    assert!(matches!(
        bad(b"NMi\x01\x00"),
        RecordError::Aux {
            reason: "value runs past the record",
            ..
        }
    ));
    assert!(matches!(
        bad(b"XZZabc"),
        RecordError::Aux {
            reason: "string value not NUL-terminated",
            ..
        }
    ));
    assert!(matches!(
        bad(b"XBBc\xff\xff\xff\x7f"),
        RecordError::Aux {
            reason: "B array elements run past the record",
            ..
        }
    ));
    assert!(matches!(
        bad(b"XBBZ\x00\x00\x00\x00"),
        RecordError::Aux { .. }
    ));
    assert!(matches!(
        bad(b"NMC\x01XBBc\x02\x00\x00\x00\x01"),
        RecordError::Aux { at: 4, .. }
    ));
}
