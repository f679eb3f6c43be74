//! Arena-backed Arrow buffers: one 64-byte-aligned allocation per batch, carved into column
//! regions that are filled in place and handed to Arrow without copying; an [`ArenaPool`]
//! recycles the allocations of batches that are gone.
//!
//! This is one of the documented places with `unsafe` outside `kernels/` (docs/ARCHITECTURE.md,
//! "Unsafe code"): turning a region into an Arrow [`Buffer`] needs
//! [`Buffer::from_custom_allocation`], a region's mutable view is built from its pointer, and a
//! checked ASCII region becomes a `StringArray` without a second validation.
//! The invariants that make both sound are local to this file:
//!
//! * an allocation is zeroed when it is made and afterwards only holds values written through
//!   regions, so every region is initialised for any [`ArrowNativeType`] (plain integers and
//!   floats, for which every bit pattern is a valid value) — also when a pool recycles it;
//! * regions never overlap (the arena hands out consecutive, 64-byte-aligned ranges and checks
//!   the capacity), and a [`Region`] is neither `Clone` nor `Copy`, so a `&mut [T]` obtained from
//!   it is the only reference to its bytes;
//! * the memory is freed, or returned to its pool, only when the last owner — the arena, a region
//!   or a `Buffer` made from one — is dropped (shared `Arc`); a pool hands it out again only
//!   after that, to one arena at a time.
//!
//! The third use is a Utf8 column whose bytes were checked for ASCII while they were written
//! ([`AsciiText`]): its `StringArray` is made without Arrow's second UTF-8 pass
//! (`StringArray::new_unchecked`), which is sound because a checked byte can no longer be written.

use std::alloc::Layout;
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::{Arc, Mutex, Weak};

use arrow_buffer::{ArrowNativeType, Buffer, ScalarBuffer};

/// Alignment of the arena and of every region (a cache line; Arrow recommends 64 bytes).
pub(crate) const ALIGN: usize = 64;

fn round_up(n: usize) -> usize {
    n.checked_add(ALIGN - 1)
        .expect("arena size overflows usize")
        & !(ALIGN - 1)
}

/// Accumulates the size an arena needs for a set of regions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ArenaSize {
    bytes: usize,
}

impl ArenaSize {
    /// Adds room for `len` values of `T` (rounded up to [`ALIGN`]).
    pub(crate) fn add<T: ArrowNativeType>(&mut self, len: usize) -> &mut Self {
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
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
}

/// Memory obtained from the global allocator, freed on drop: `bytes` zeroed bytes at `ptr`,
/// aligned to [`ALIGN`], inside the allocation `raw` of `layout`.
#[derive(Debug)]
struct Memory {
    raw: NonNull<u8>,
    layout: Layout,
    ptr: NonNull<u8>,
    bytes: usize,
}

impl Memory {
    /// `bytes` zeroed bytes aligned to [`ALIGN`] (`bytes` > 0).
    ///
    /// Asked for with the allocator's natural alignment, a zeroed allocation is a `calloc`,
    /// which takes fresh pages from the kernel as they are (already zero) where an over-aligned
    /// one is zeroed a second time by hand; the alignment comes from over-allocating instead.
    fn zeroed(bytes: usize) -> Self {
        let total = bytes
            .checked_add(ALIGN)
            .expect("arena size overflows usize");
        let layout = Layout::from_size_align(total, 16).expect("valid arena layout");
        // SAFETY: `layout` has a non-zero size.
        let raw = unsafe { std::alloc::alloc_zeroed(layout) };
        let raw = NonNull::new(raw).unwrap_or_else(|| std::alloc::handle_alloc_error(layout));
        let skip = raw.as_ptr().align_offset(ALIGN);
        assert!(skip < ALIGN, "u8 pointers can be aligned");
        // `skip + bytes <= total`: the aligned range lies inside the allocation.
        let ptr = NonNull::new(raw.as_ptr().wrapping_add(skip)).expect("inside the allocation");
        Self {
            raw,
            layout,
            ptr,
            bytes,
        }
    }
}

impl Drop for Memory {
    fn drop(&mut self) {
        // SAFETY: `raw` came from `alloc_zeroed(layout)` in `Memory::zeroed` and `Memory` is
        // neither `Clone` nor `Copy`, so it is freed exactly once, here.
        unsafe { std::alloc::dealloc(self.raw.as_ptr(), self.layout) };
    }
}

// SAFETY: `Memory` owns plain bytes; whoever holds it decides who accesses them.
unsafe impl Send for Memory {}

/// The allocation behind an arena; when the last `Arc` to it goes, its memory returns to the
/// pool it came from (or is freed).
#[derive(Debug)]
struct Block {
    ptr: NonNull<u8>,
    memory: Option<Memory>,
    pool: Option<Weak<PoolInner>>,
}

// SAFETY: `Block` only owns plain bytes; regions coordinate access (disjoint ranges).
unsafe impl Send for Block {}
// SAFETY: `Block` has no interior state besides the bytes, whose access regions coordinate.
unsafe impl Sync for Block {}
impl std::panic::RefUnwindSafe for Block {}

impl Drop for Block {
    fn drop(&mut self) {
        if let (Some(memory), Some(pool)) = (self.memory.take(), self.pool.as_ref()) {
            if let Some(pool) = pool.upgrade() {
                pool.give_back(memory);
            }
        }
    }
}

#[derive(Debug)]
struct PoolInner {
    spare: Mutex<Vec<Memory>>,
    keep: usize,
}

impl PoolInner {
    /// Keeps `memory` for the pool's next [`take`](Self::take), which frees what is past
    /// `keep`: memory comes back where the batch is dropped (a reader's calling thread) and is
    /// freed where arenas are taken (the worker that builds batches), so the calling thread
    /// never pays for unmapping it. The spares never outnumber the arenas once alive together.
    fn give_back(&self, memory: Memory) {
        self.spare
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(memory);
    }

    /// The smallest spare block of at least `bytes`, if any; the spares past `keep` are freed.
    fn take(&self, bytes: usize) -> Option<Memory> {
        let (best, extra) = {
            let mut spare = self.spare.lock().unwrap_or_else(|e| e.into_inner());
            let best = (0..spare.len())
                .filter(|&i| spare[i].bytes >= bytes)
                .min_by_key(|&i| spare[i].bytes)
                .map(|i| spare.swap_remove(i));
            // Keep the largest blocks: they serve every smaller request.
            spare.sort_unstable_by_key(|m| std::cmp::Reverse(m.bytes));
            let keep = self.keep.min(spare.len());
            let extra = spare.split_off(keep);
            (best, extra)
        };
        drop(extra); // freed outside the lock
        best
    }
}

/// Recycles arena memory: an arena taken from a pool returns its allocation to the pool when
/// the arena, its regions and every Arrow buffer made from them are dropped, so a steady stream
/// of batches reuses a few allocations instead of zeroing and faulting in fresh pages for each.
///
/// Memory is zeroed once, when first allocated; a recycled arena's regions hold whatever values
/// the previous batch wrote (valid values of plain numeric types, but unspecified): fill every
/// element, or use [`Region::zeroed`]. Cheap to clone (shared).
#[derive(Debug, Clone)]
pub(crate) struct ArenaPool {
    inner: Arc<PoolInner>,
}

impl ArenaPool {
    /// A pool keeping at most `keep` spare allocations (the batches a pipeline holds at once:
    /// those being built, queued and consumed).
    pub(crate) fn new(keep: usize) -> Self {
        Self {
            inner: Arc::new(PoolInner {
                spare: Mutex::new(Vec::new()),
                keep: keep.max(1),
            }),
        }
    }

    /// A new, empty pool keeping as many spare allocations as this one.
    pub(crate) fn empty_like(&self) -> Self {
        Self::new(self.inner.keep)
    }

    /// An arena of at least `size` bytes: a spare allocation that is large enough, or a new one
    /// with an eighth of headroom so that slightly larger batches later still fit.
    pub(crate) fn arena(&self, size: ArenaSize) -> Arena {
        let capacity = size.bytes();
        if capacity == 0 {
            return Arena::new(size);
        }
        let (memory, fresh) = match self.inner.take(capacity) {
            Some(m) => (m, false),
            None => (Memory::zeroed(round_up(capacity + capacity / 8)), true),
        };
        Arena {
            block: Arc::new(Block {
                ptr: memory.ptr,
                memory: Some(memory),
                pool: Some(Arc::downgrade(&self.inner)),
            }),
            capacity,
            used: 0,
            fresh,
        }
    }

    /// Spare allocations held now.
    #[cfg(test)]
    fn spare(&self) -> usize {
        self.inner
            .spare
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }
}

/// One aligned allocation carved into regions in order.
#[derive(Debug)]
pub(crate) struct Arena {
    block: Arc<Block>,
    capacity: usize,
    used: usize,
    /// Whether the memory is still all zero (new, not recycled).
    fresh: bool,
}

impl Arena {
    /// Allocates `size.bytes()` zeroed bytes aligned to [`ALIGN`] (no allocation for 0 bytes),
    /// freed when the arena, its regions and their buffers are gone; see [`ArenaPool`] to
    /// recycle them instead.
    ///
    /// # Panics
    /// If the allocation fails (like `Vec`, via `handle_alloc_error`).
    pub(crate) fn new(size: ArenaSize) -> Self {
        let capacity = size.bytes();
        let memory = (capacity > 0).then(|| Memory::zeroed(capacity));
        // A dangling pointer aligned to ALIGN is valid for the zero-length slices of an empty
        // arena.
        let ptr = memory
            .as_ref()
            .map_or(NonNull::new(ALIGN as *mut u8).expect("non-zero"), |m| m.ptr);
        Self {
            block: Arc::new(Block {
                ptr,
                memory,
                pool: None,
            }),
            capacity,
            used: 0,
            fresh: true,
        }
    }

    /// Bytes not yet handed out.
    pub(crate) fn remaining(&self) -> usize {
        self.capacity - self.used
    }

    /// Carves the next region of `len` values of `T`, 64-byte aligned. Its values are zero in a
    /// new arena and unspecified (but valid) in a recycled one: write every element, or call
    /// [`Region::zeroed`].
    ///
    /// # Panics
    /// If the arena was not sized for it (the same `add` calls as the `take` calls).
    pub(crate) fn take<T: ArrowNativeType>(&mut self, len: usize) -> Region<T> {
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
            fresh: self.fresh,
            _t: PhantomData,
        }
    }
}

/// A region of an [`Arena`] holding `len` values of `T`, exclusively owned.
#[derive(Debug)]
pub(crate) struct Region<T> {
    block: Arc<Block>,
    offset: usize,
    len: usize,
    /// Whether the bytes are known to be zero.
    fresh: bool,
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

    /// Sets every value to zero (free when the arena is new), and returns the values.
    pub(crate) fn zeroed(&mut self) -> &mut [T] {
        let fresh = std::mem::replace(&mut self.fresh, true);
        let values = self.as_mut_slice();
        if !fresh {
            values.fill(T::default());
        }
        values
    }

    /// Keeps only the first `len` values (a region sized by an upper bound, filled to less).
    ///
    /// # Panics
    /// If `len` is more than the region holds.
    pub(crate) fn truncate(&mut self, len: usize) {
        assert!(len <= self.len, "truncate to {len} of {} values", self.len);
        self.len = len;
    }

    /// The values, for writing in place.
    pub(crate) fn as_mut_slice(&mut self) -> &mut [T] {
        let ptr = self.ptr().cast::<T>().as_ptr();
        // SAFETY: the range [offset, offset + len·size_of::<T>()) lies inside the allocation,
        // is aligned to 64 ≥ align_of::<T>(), holds valid `T`s (the memory was zeroed when
        // allocated and since then only plain numeric `ArrowNativeType` values — for which every
        // bit pattern is valid — were written to it), overlaps no other region, and `&mut self`
        // makes this the only live reference to it.
        unsafe { std::slice::from_raw_parts_mut(ptr, self.len) }
    }

    /// Hands the region to Arrow without copying; the arena memory lives as long as the buffer.
    pub(crate) fn into_buffer(self) -> Buffer {
        let bytes = self.len * std::mem::size_of::<T>();
        let owner: Arc<dyn arrow_buffer::alloc::Allocation> = self.block.clone();
        // SAFETY: `ptr()` is valid for `bytes` initialised bytes for as long as `owner` (the
        // allocation) lives, and the region is consumed, so nothing can write to them any more.
        unsafe { Buffer::from_custom_allocation(self.ptr(), bytes, owner) }
    }

    /// [`Region::into_buffer`] typed as Arrow values.
    pub(crate) fn into_scalar_buffer(self) -> ScalarBuffer<T> {
        let len = self.len;
        ScalarBuffer::new(self.into_buffer(), 0, len)
    }
}

/// The values region of a Utf8 column that is written front to back and checked for ASCII as
/// it goes (a block of rows at a time, while the bytes are in cache), so the finished column
/// needs no UTF-8 validation pass over the whole batch (Arrow's `try_new` reads every byte
/// again, from memory once the batch is larger than the cache).
///
/// Only the bytes after the checked prefix can be written ([`AsciiText::unchecked_mut`]), so a
/// checked byte stays ASCII; a value that is not ASCII (a UTF-8 read name or tag string) makes
/// the column take Arrow's full validation instead.
#[derive(Debug)]
pub(crate) struct AsciiText {
    values: Region<u8>,
    /// Bytes `[0, checked)` were checked.
    checked: usize,
    /// Whether every checked byte is ASCII.
    ascii: bool,
}

impl AsciiText {
    pub(crate) fn new(values: Region<u8>) -> Self {
        Self {
            values,
            checked: 0,
            ascii: true,
        }
    }

    /// The region's bytes.
    pub(crate) fn as_slice(&mut self) -> &[u8] {
        self.values.as_mut_slice()
    }

    /// Where the unchecked bytes start, and those bytes for writing (the slice's index 0 is that
    /// position).
    pub(crate) fn unchecked_mut(&mut self) -> (usize, &mut [u8]) {
        let at = self.checked;
        (at, &mut self.values.as_mut_slice()[at..])
    }

    /// Checks the bytes written up to `end` (what was written since the last check).
    ///
    /// # Panics
    /// If `end` is before the checked prefix or past the region.
    pub(crate) fn check(&mut self, end: usize) {
        let bytes = &self.values.as_mut_slice()[self.checked..end];
        self.ascii &= bytes.is_ascii();
        self.checked = end;
    }

    /// The column of the first `len` bytes, with `offsets` (into those bytes) and `nulls`.
    /// Arrow's checks run in full unless every byte up to `len` was checked and is ASCII; the
    /// rest of `try_new`'s checks (offsets within the values, null count) always run.
    pub(crate) fn into_string_array(
        mut self,
        len: usize,
        offsets: arrow_buffer::OffsetBuffer<i32>,
        nulls: Option<arrow_buffer::NullBuffer>,
    ) -> Result<arrow_array::StringArray, arrow_schema::ArrowError> {
        let checked = self.ascii && self.checked >= len;
        self.values.truncate(len);
        let values = self.values.into_buffer();
        let fits = offsets
            .last()
            .to_usize()
            .is_some_and(|end| end <= values.len())
            && nulls.as_ref().is_none_or(|n| n.len() == offsets.len() - 1);
        if checked && fits {
            // SAFETY: `try_new` would not fail: the offsets are non-negative and increasing
            // (`OffsetBuffer`), the last is within `values`, `nulls` has one bit per value, and
            // every byte of `values` is ASCII (checked above, and bytes before `checked` cannot
            // be written after their check: `unchecked_mut` only lends the rest), so the values
            // are UTF-8 and every offset is a character boundary.
            Ok(unsafe { arrow_array::StringArray::new_unchecked(offsets, values, nulls) })
        } else {
            arrow_array::StringArray::try_new(offsets, values, nulls)
        }
    }
}

#[cfg(test)]
mod tests;
