use super::*;

#[test]
fn regions_become_arrow_arrays_without_copying() {
    let mut size = ArenaSize::default();
    size.add::<u32>(3);
    size.add::<f64>(3);
    let mut arena = Arena::new(size);
    let mut a = arena.take::<u32>(3);
    let mut b = arena.take::<f64>(3);
    a.as_mut_slice().copy_from_slice(&[1, 2, 3]);
    b.as_mut_slice()[2] = 0.5;
    let (pa, pb) = (a.as_mut_slice().as_ptr(), b.as_mut_slice().as_ptr());
    let a = arrow_array::UInt32Array::new(a.into_scalar_buffer(), None);
    let b = arrow_array::Float64Array::new(b.into_scalar_buffer(), None);
    assert_eq!(a.values(), &[1, 2, 3]);
    assert_eq!(b.values(), &[0.0, 0.0, 0.5]);
    assert_eq!(
        (a.values().as_ptr(), b.values().as_ptr()),
        (pa, pb),
        "no copy"
    );
    assert_eq!(pa as usize % ALIGN, 0);
}

#[test]
fn regions_are_aligned_zeroed_and_disjoint() {
    let mut size = ArenaSize::default();
    size.add::<u8>(3).add::<u64>(5).add::<i16>(0).add::<f32>(17);
    assert_eq!(size.bytes(), 64 + 64 + 128); // the empty i16 region takes no room
    let mut arena = Arena::new(size);
    let mut a = arena.take::<u8>(3);
    let mut b = arena.take::<u64>(5);
    let mut c = arena.take::<i16>(0);
    let mut d = arena.take::<f32>(17);
    assert_eq!(arena.remaining(), 0);
    assert!(a.as_mut_slice().iter().all(|&x| x == 0));
    assert!(d.as_mut_slice().iter().all(|&x| x == 0.0));
    a.as_mut_slice().fill(0xFF);
    b.as_mut_slice().fill(u64::MAX);
    d.as_mut_slice().fill(1.5);
    assert!(c.as_mut_slice().is_empty());
    let (a, b, d) = (
        a.into_buffer(),
        b.into_scalar_buffer(),
        d.into_scalar_buffer(),
    );
    drop(arena);
    assert_eq!(a.as_ptr() as usize % ALIGN, 0);
    assert_eq!(b.inner().as_ptr() as usize % ALIGN, 0);
    assert_eq!(a.as_slice(), &[0xFF; 3]);
    assert_eq!(&b[..], &[u64::MAX; 5]);
    assert_eq!(&d[..], &[1.5; 17]);
}

#[test]
fn empty_arena() {
    let mut arena = Arena::new(ArenaSize::default());
    let r = arena.take::<f64>(0);
    assert!(r.into_scalar_buffer().is_empty());
}

#[test]
#[should_panic(expected = "arena too small")]
fn overdraw_panics() {
    let mut size = ArenaSize::default();
    size.add::<u32>(16);
    let mut arena = Arena::new(size);
    let _ = arena.take::<u32>(17);
}

fn sized(n: usize) -> ArenaSize {
    let mut size = ArenaSize::default();
    size.add::<u64>(n);
    size
}

#[test]
fn pool_recycles_memory_once_every_buffer_is_gone() {
    let pool = ArenaPool::new(2);
    let mut a = pool.arena(sized(100));
    let mut r = a.take::<u64>(100);
    assert!(
        r.as_mut_slice().iter().all(|&x| x == 0),
        "new memory is zero"
    );
    r.as_mut_slice().fill(7);
    let first = r.ptr();
    let buf = r.into_scalar_buffer();
    drop(a);
    assert_eq!(pool.spare(), 0, "a live buffer keeps its arena");
    // A second arena while the first is alive gets other memory.
    let mut b = pool.arena(sized(100));
    assert_ne!(b.take::<u64>(1).ptr(), first);
    drop(b);
    assert_eq!(pool.spare(), 1);
    assert_eq!(&buf[..], &[7; 100]);
    drop(buf);
    assert_eq!(pool.spare(), 2);
    // The recycled memory still holds the old values; `zeroed` clears them.
    let mut c = pool.arena(sized(100));
    let mut r = c.take::<u64>(100);
    if r.ptr() == first {
        assert!(r.as_mut_slice().contains(&7));
    }
    assert!(r.zeroed().iter().all(|&x| x == 0));
    assert_eq!(pool.spare(), 1);
}

#[test]
fn pool_serves_smaller_requests_and_keeps_the_largest() {
    let pool = ArenaPool::new(1);
    let big = pool.arena(sized(1000));
    let mid = pool.arena(sized(100));
    let small = pool.arena(sized(10));
    let (big_ptr, small_ptr) = (big.block.ptr, small.block.ptr);
    drop(big);
    drop(mid);
    drop(small);
    assert_eq!(
        pool.spare(),
        3,
        "kept until the next take (off the dropping thread)"
    );
    // The smallest that fits is taken; of the rest, past `keep`, the smaller are freed.
    let tiny = pool.arena(sized(5));
    assert_eq!(tiny.block.ptr, small_ptr);
    assert_eq!(pool.spare(), 1);
    let again = pool.arena(sized(500));
    assert_eq!(again.block.ptr, big_ptr);
    assert!(again.remaining() >= 500 * 8);
    // Larger than anything spare: new memory, with headroom.
    let larger = pool.arena(sized(2000));
    assert_ne!(larger.block.ptr, big_ptr);
}

#[test]
fn buffers_outlive_their_pool() {
    let pool = ArenaPool::new(4);
    let mut a = pool.arena(sized(3));
    let mut r = a.take::<u64>(3);
    r.as_mut_slice().copy_from_slice(&[1, 2, 3]);
    let buf = r.into_scalar_buffer();
    drop(a);
    drop(pool);
    assert_eq!(&buf[..], &[1, 2, 3]);
}

#[test]
fn truncate_shortens_the_buffer() {
    let mut a = Arena::new(sized(10));
    let mut r = a.take::<u64>(10);
    r.as_mut_slice()[..4].copy_from_slice(&[4, 3, 2, 1]);
    r.truncate(4);
    assert_eq!(&r.into_scalar_buffer()[..], &[4, 3, 2, 1]);
}

/// Writes `parts` into an [`AsciiText`] of `cap` bytes, checking after each part listed in
/// `checks`, and builds the column of one value per part.
fn text_column(
    parts: &[&[u8]],
    checks: &[usize],
) -> Result<arrow_array::StringArray, arrow_schema::ArrowError> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut arena = Arena::new(*ArenaSize::default().add::<u8>(len + 8));
    let mut text = AsciiText::new(arena.take::<u8>(len + 8));
    let mut offsets = vec![0i32];
    for (i, part) in parts.iter().enumerate() {
        let at = *offsets.last().expect("one offset") as usize;
        let (base, out) = text.unchecked_mut();
        out[at - base..at - base + part.len()].copy_from_slice(part);
        offsets.push((at + part.len()) as i32);
        if checks.contains(&i) {
            text.check(at + part.len());
        }
    }
    let offsets = arrow_buffer::OffsetBuffer::new(offsets.into());
    text.into_string_array(len, offsets, None)
}

#[test]
fn checked_ascii_text_becomes_a_string_array() {
    let a = text_column(&[b"ACGT", b"", b"12M3S"], &[0, 2]).expect("ASCII");
    assert_eq!(
        a.iter().collect::<Vec<_>>(),
        [Some("ACGT"), Some(""), Some("12M3S")]
    );
}

#[test]
fn text_that_is_not_ascii_or_not_checked_is_validated_in_full() {
    // UTF-8 that is not ASCII: accepted by Arrow's validation.
    let a = text_column(&["r\u{e9}ad".as_bytes(), b"x"], &[0, 1]).expect("UTF-8");
    assert_eq!(a.value(0), "r\u{e9}ad");
    // Not UTF-8: refused, whether or not it was checked.
    for checks in [&[0, 1][..], &[0][..], &[][..]] {
        let e = text_column(&[b"ok", b"\xff"], checks).expect_err("not UTF-8");
        assert!(e.to_string().contains("UTF-8"), "{e}");
    }
    // A value split inside a character (each half checked is not ASCII).
    let e = text_column(&[b"\xc3", b"\xa9"], &[0, 1]).expect_err("split character");
    assert!(e.to_string().contains("UTF-8"), "{e}");
}

#[test]
fn checked_bytes_cannot_be_written_again() {
    let mut arena = Arena::new(*ArenaSize::default().add::<u8>(8));
    let mut text = AsciiText::new(arena.take::<u8>(8));
    text.unchecked_mut().1[..4].copy_from_slice(b"ACGT");
    text.check(4);
    let (base, rest) = text.unchecked_mut();
    assert_eq!(
        (base, rest.len()),
        (4, 4),
        "only the unchecked bytes are lent"
    );
    assert_eq!(text.as_slice()[..4], *b"ACGT");
}
