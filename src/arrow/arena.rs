//! Arena-backed Arrow buffers: one 64-byte-aligned, zeroed allocation per batch, carved into
//! column regions that are filled in place and handed to Arrow without copying.
//!
//! This is one of the documented places with `unsafe` outside `kernels/` (DESIGN.md, "Threads
//! and memory"): turning a region into an Arrow [`Buffer`] needs
//! [`Buffer::from_custom_allocation`], and a region's mutable view is built from its pointer.
//! The invariants that make both sound are local to this file:
//!
//! * the allocation is zeroed, so every region is initialised for any [`ArrowNativeType`] (plain
//!   integers and floats, for which all-zero bits are a valid value);
//! * regions never overlap (the arena hands out consecutive, 64-byte-aligned ranges and checks
//!   the capacity), and a [`Region`] is neither `Clone` nor `Copy`, so a `&mut [T]` obtained from
//!   it is the only reference to its bytes;
//! * the memory is freed only when the last owner — the arena, a region or a `Buffer` made from
//!   one — is dropped (shared `Arc`).
//!
//! ```
//! use rawarrow::arrow::arena::{Arena, ArenaSize};
//! let mut size = ArenaSize::default();
//! size.add::<u32>(3);
//! size.add::<f64>(3);
//! let mut arena = Arena::new(size);
//! let mut a = arena.take::<u32>(3);
//! let mut b = arena.take::<f64>(3);
//! a.as_mut_slice().copy_from_slice(&[1, 2, 3]);
//! b.as_mut_slice()[2] = 0.5;
//! let a = arrow_array::UInt32Array::new(a.into_scalar_buffer(), None);
//! let b = arrow_array::Float64Array::new(b.into_scalar_buffer(), None);
//! assert_eq!(a.values(), &[1, 2, 3]);
//! assert_eq!(b.values(), &[0.0, 0.0, 0.5]);
//! ```

use std::alloc::Layout;
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::Arc;

use arrow_buffer::{ArrowNativeType, Buffer, ScalarBuffer};

/// Alignment of the arena and of every region (a cache line; Arrow recommends 64 bytes).
pub const ALIGN: usize = 64;

fn round_up(n: usize) -> usize {
    n.checked_add(ALIGN - 1)
        .expect("arena size overflows usize")
        & !(ALIGN - 1)
}

/// Accumulates the size an arena needs for a set of regions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ArenaSize {
    bytes: usize,
}

impl ArenaSize {
    /// Adds room for `len` values of `T` (rounded up to [`ALIGN`]).
    pub fn add<T: ArrowNativeType>(&mut self, len: usize) -> &mut Self {
        let n = len
            .checked_mul(std::mem::size_of::<T>())
            .expect("arena size overflows usize");
        self.bytes = self
            .bytes
            .checked_add(round_up(n))
            .expect("arena size overflows usize");
        self
    }

    /// Total bytes.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

/// The allocation; freed when the last `Arc` to it goes.
#[derive(Debug)]
struct Block {
    ptr: NonNull<u8>,
    layout: Option<Layout>,
}

// SAFETY: `Block` only owns plain bytes; regions coordinate access (disjoint ranges).
unsafe impl Send for Block {}
// SAFETY: `Block` has no interior state besides the bytes, whose access regions coordinate.
unsafe impl Sync for Block {}
impl std::panic::RefUnwindSafe for Block {}

impl Drop for Block {
    fn drop(&mut self) {
        if let Some(layout) = self.layout {
            // SAFETY: `ptr` came from `alloc_zeroed(layout)` in `Arena::new` and is freed once,
            // here, when the last owner drops the block.
            unsafe { std::alloc::dealloc(self.ptr.as_ptr(), layout) };
        }
    }
}

/// One aligned, zeroed allocation carved into regions in order.
#[derive(Debug)]
pub struct Arena {
    block: Arc<Block>,
    capacity: usize,
    used: usize,
}

impl Arena {
    /// Allocates `size.bytes()` zeroed bytes aligned to [`ALIGN`] (no allocation for 0 bytes).
    ///
    /// # Panics
    /// If the allocation fails (like `Vec`, via `handle_alloc_error`).
    pub fn new(size: ArenaSize) -> Self {
        let capacity = size.bytes();
        let (ptr, layout) = if capacity == 0 {
            // A dangling pointer aligned to ALIGN: valid for zero-length slices.
            let dangling = NonNull::new(ALIGN as *mut u8).expect("non-zero");
            (dangling, None)
        } else {
            let layout = Layout::from_size_align(capacity, ALIGN).expect("valid arena layout");
            // SAFETY: `layout` has a non-zero size.
            let raw = unsafe { std::alloc::alloc_zeroed(layout) };
            let ptr = NonNull::new(raw).unwrap_or_else(|| std::alloc::handle_alloc_error(layout));
            (ptr, Some(layout))
        };
        Self {
            block: Arc::new(Block { ptr, layout }),
            capacity,
            used: 0,
        }
    }

    /// Bytes not yet handed out.
    pub fn remaining(&self) -> usize {
        self.capacity - self.used
    }

    /// Carves the next region of `len` values of `T`, zero-initialised and 64-byte aligned.
    ///
    /// # Panics
    /// If the arena was not sized for it (the same `add` calls as the `take` calls).
    pub fn take<T: ArrowNativeType>(&mut self, len: usize) -> Region<T> {
        let bytes = len
            .checked_mul(std::mem::size_of::<T>())
            .expect("region size overflows usize");
        let rounded = round_up(bytes);
        assert!(
            rounded <= self.remaining(),
            "arena too small: {rounded} more bytes asked, {} left",
            self.remaining()
        );
        let offset = self.used;
        self.used += rounded;
        Region {
            block: self.block.clone(),
            offset,
            len,
            _t: PhantomData,
        }
    }
}

/// A region of an [`Arena`] holding `len` values of `T`, exclusively owned.
#[derive(Debug)]
pub struct Region<T> {
    block: Arc<Block>,
    offset: usize,
    len: usize,
    _t: PhantomData<T>,
}

// SAFETY: a region is the only handle to its bytes (not Clone), so moving it to another thread
// moves that exclusive access; `T: Send` values only.
unsafe impl<T: Send> Send for Region<T> {}

impl<T: ArrowNativeType> Region<T> {
    fn ptr(&self) -> NonNull<u8> {
        // SAFETY: `offset` is within the allocation (checked in `take`), or 0 for an empty arena.
        unsafe { self.block.ptr.add(self.offset) }
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the region holds no values.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The values, for writing in place.
    pub fn as_mut_slice(&mut self) -> &mut [T] {
        let ptr = self.ptr().cast::<T>().as_ptr();
        // SAFETY: the range [offset, offset + len·size_of::<T>()) lies inside the zeroed
        // allocation, is aligned to 64 ≥ align_of::<T>(), holds valid `T`s (all-zero bits are a
        // valid ArrowNativeType, and only `T`s are written through this view), overlaps no other
        // region, and `&mut self` makes this the only live reference to it.
        unsafe { std::slice::from_raw_parts_mut(ptr, self.len) }
    }

    /// Hands the region to Arrow without copying; the arena memory lives as long as the buffer.
    pub fn into_buffer(self) -> Buffer {
        let bytes = self.len * std::mem::size_of::<T>();
        let owner: Arc<dyn arrow_buffer::alloc::Allocation> = self.block.clone();
        // SAFETY: `ptr()` is valid for `bytes` initialised bytes for as long as `owner` (the
        // allocation) lives, and the region is consumed, so nothing can write to them any more.
        unsafe { Buffer::from_custom_allocation(self.ptr(), bytes, owner) }
    }

    /// [`Region::into_buffer`] typed as Arrow values.
    pub fn into_scalar_buffer(self) -> ScalarBuffer<T> {
        let len = self.len;
        ScalarBuffer::new(self.into_buffer(), 0, len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
