//! The module's memory allocator: small blocks are bump-allocated in chunks,
//! and a chunk is reused as soon as every block in it is freed.
//!
//! An admission request allocates thousands of small blocks (every key and
//! string of the parsed object, the paths and messages of the checks) and
//! frees nearly all of them when it is answered. dlmalloc, Rust's default on
//! wasm32, keeps free lists for every size and merges neighbours on each
//! free; here a small block costs a pointer bump and a count, and freeing it
//! a count. The blocks that live on in the instance (the tables built once
//! and the settings last read) keep only their own chunk from being reused.
//! Large blocks (the payload, big arrays, long responses) go to the backing
//! allocator, which reuses their memory as it always did.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::ptr;

/// The size and the alignment of a chunk: a block's chunk is found by
/// clearing the low bits of its address.
pub const CHUNK: usize = 64 * 1024;
/// Blocks larger than this, or aligned more than [`ALIGN`], are the backing
/// allocator's. One live small block keeps its whole chunk from reuse, so
/// the chunks in use are at most the live small blocks plus one: what lives
/// on in the instance is a few tables and the settings last read.
pub const LARGE: usize = 8 * 1024;
/// The largest alignment served from chunks, and the size of their header.
pub const ALIGN: usize = 16;

/// At the start of every chunk.
#[repr(C, align(16))]
struct Header {
    /// Blocks allocated in the chunk and not yet freed.
    live: usize,
    /// The next chunk in the list of empty chunks.
    next_empty: *mut Header,
}

const _: () = assert!(size_of::<Header>() == ALIGN);

/// Chunked bump allocation over `B`. Not thread-safe: the module has one
/// thread.
pub struct Chunked<B> {
    backing: B,
    /// The chunk blocks are bumped from; null before the first block.
    current: Cell<*mut Header>,
    /// The offset of the first free byte in `current`. Offsets, not
    /// addresses: a chunk at the top of a 32-bit memory ends at 2^32.
    next: Cell<usize>,
    /// Empty chunks other than `current`, ready for reuse.
    empty: Cell<*mut Header>,
}

// SAFETY: the cells are only touched from the module's single thread;
// wasm32-wasip1 without the atomics feature cannot start another.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
unsafe impl<B: Sync> Sync for Chunked<B> {}

fn is_small(layout: Layout) -> bool {
    layout.size() <= LARGE && layout.align() <= ALIGN
}

fn chunk_of(block: *mut u8) -> *mut Header {
    (block as usize & !(CHUNK - 1)) as *mut Header
}

/// The offset of a chunk's first block.
const FIRST: usize = size_of::<Header>();

impl<B: GlobalAlloc> Chunked<B> {
    pub const fn new(backing: B) -> Self {
        Chunked {
            backing,
            current: Cell::new(ptr::null_mut()),
            next: Cell::new(0),
            empty: Cell::new(ptr::null_mut()),
        }
    }

    /// Makes an empty chunk current, a reused or a new one. The chunk it
    /// replaces has live blocks (an empty current chunk starts over, and any
    /// small block fits there), and goes to the empty list when its last
    /// block is freed.
    fn refill(&self) -> bool {
        // SAFETY: the chunks of the empty list are live chunks of this
        // allocator, with initialised headers.
        unsafe {
            let mut chunk = self.empty.get();
            if chunk.is_null() {
                let layout = Layout::from_size_align_unchecked(CHUNK, CHUNK);
                chunk = self.backing.alloc(layout).cast::<Header>();
                if chunk.is_null() {
                    return false;
                }
            } else {
                self.empty.set((*chunk).next_empty);
            }
            chunk.write(Header {
                live: 0,
                next_empty: ptr::null_mut(),
            });
            self.current.set(chunk);
            self.next.set(FIRST);
        }
        true
    }

    #[inline(never)]
    fn bump(&self, layout: Layout) -> *mut u8 {
        let size = layout.size().max(1);
        let align = layout.align();
        // The offset of the block in the current chunk, if it fits there.
        // Chunks are aligned to CHUNK, so aligning the offset aligns the block.
        let fits = || {
            let start = (self.next.get() + align - 1) & !(align - 1);
            (!self.current.get().is_null() && start + size <= CHUNK).then_some(start)
        };
        let Some(start) = fits().or_else(|| if self.refill() { fits() } else { None }) else {
            return ptr::null_mut();
        };
        self.next.set(start + size);
        let chunk = self.current.get();
        // SAFETY: `current` is a live chunk (`fits` checked it is not null).
        unsafe { (*chunk).live += 1 };
        // Below the chunk's end, so below 2^32.
        (chunk as usize + start) as *mut u8
    }

    /// # Safety
    /// `block` is a small block of this allocator, not yet freed.
    #[inline(never)]
    unsafe fn release(&self, block: *mut u8) {
        let chunk = chunk_of(block);
        // SAFETY: the header of a small block's chunk is initialised.
        unsafe {
            (*chunk).live -= 1;
            if (*chunk).live == 0 {
                if chunk == self.current.get() {
                    self.next.set(FIRST);
                } else {
                    (*chunk).next_empty = self.empty.get();
                    self.empty.set(chunk);
                }
            }
        }
    }
}

// SAFETY: small blocks are disjoint ranges of chunks that stay allocated
// from the backing allocator for the allocator's whole life, each chunk's
// header counting its blocks that are not freed; a chunk's bytes are handed
// out again only once that count is zero. Large blocks are the backing
// allocator's, and `is_small` of the same layout routes each call.
unsafe impl<B: GlobalAlloc> GlobalAlloc for Chunked<B> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if is_small(layout) {
            self.bump(layout)
        } else {
            // SAFETY: the caller's layout has a non-zero size.
            unsafe { self.backing.alloc(layout) }
        }
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        if is_small(layout) {
            // SAFETY: a small layout means a small block of this allocator.
            unsafe { self.release(block) }
        } else {
            // SAFETY: a large layout means a block of the backing allocator.
            unsafe { self.backing.dealloc(block, layout) }
        }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees that `new_size` with the old
        // alignment is a valid layout.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        match (is_small(layout), is_small(new_layout)) {
            (true, true) => {
                let chunk = chunk_of(block);
                let offset = block as usize - chunk as usize;
                // The last block bumped grows or shrinks where it is: a
                // string or a vector being written.
                if chunk == self.current.get()
                    && offset + layout.size().max(1) == self.next.get()
                    && offset + new_size <= CHUNK
                {
                    self.next.set(offset + new_size);
                    return block;
                }
                if new_size <= layout.size() {
                    return block;
                }
            }
            (false, false) => {
                // SAFETY: the caller's guarantees, for the backing allocator.
                return unsafe { self.backing.realloc(block, layout, new_size) };
            }
            _ => {}
        }
        // SAFETY: `new_layout` is valid; the old block is the caller's and is
        // copied before it is freed.
        unsafe {
            let moved = self.alloc(new_layout);
            if !moved.is_null() {
                ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size));
                self.dealloc(block, layout);
            }
            moved
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::System;
    use std::cell::RefCell;

    /// System, counting the blocks it holds, and among them the chunks.
    #[derive(Default)]
    struct Counting {
        held: RefCell<usize>,
        chunks: RefCell<usize>,
    }

    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            *self.held.borrow_mut() += 1;
            *self.chunks.borrow_mut() += usize::from(layout.align() == CHUNK);
            unsafe { System.alloc(layout) }
        }
        unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
            *self.held.borrow_mut() -= 1;
            *self.chunks.borrow_mut() -= usize::from(layout.align() == CHUNK);
            unsafe { System.dealloc(block, layout) }
        }
    }

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).expect("a valid layout")
    }

    /// Allocates `size` bytes filled with `byte`.
    fn filled(a: &Chunked<Counting>, size: usize, byte: u8) -> *mut u8 {
        let block = unsafe { a.alloc(layout(size, 8)) };
        assert!(!block.is_null());
        unsafe { ptr::write_bytes(block, byte, size) };
        block
    }

    fn holds(block: *mut u8, size: usize, byte: u8) -> bool {
        unsafe { std::slice::from_raw_parts(block, size) }
            .iter()
            .all(|b| *b == byte)
    }

    #[test]
    fn small_blocks_share_a_chunk_and_the_chunk_is_reused_once_all_are_freed() {
        let a = Chunked::new(Counting::default());
        let first: Vec<*mut u8> = (0..100).map(|i| filled(&a, 24, i as u8)).collect();
        assert_eq!(
            *a.backing.held.borrow(),
            1,
            "one chunk for 100 small blocks"
        );
        assert!(first.iter().all(|b| chunk_of(*b) == chunk_of(first[0])));
        for block in &first {
            unsafe { a.dealloc(*block, layout(24, 8)) };
        }
        let again = filled(&a, 24, 7);
        assert_eq!(again, first[0], "the emptied chunk starts over");
        assert_eq!(*a.backing.held.borrow(), 1);
    }

    #[test]
    fn a_block_that_lives_on_keeps_only_its_own_chunk_from_reuse() {
        let a = Chunked::new(Counting::default());
        let kept = filled(&a, 100, 0xAB);
        // Enough blocks to fill several chunks, all freed again.
        let per_round = 3 * CHUNK / 1024;
        for round in 0..5 {
            let blocks: Vec<*mut u8> = (0..per_round).map(|_| filled(&a, 1000, round)).collect();
            for block in blocks {
                unsafe { a.dealloc(block, layout(1000, 8)) };
            }
        }
        assert!(holds(kept, 100, 0xAB), "the long-lived block is intact");
        assert!(
            *a.backing.held.borrow() <= 5,
            "chunks are reused, not allocated per round: {} held",
            a.backing.held.borrow()
        );
    }

    #[test]
    fn large_and_overaligned_blocks_go_to_the_backing_allocator() {
        let a = Chunked::new(Counting::default());
        let large = unsafe { a.alloc(layout(LARGE + 1, 8)) };
        let aligned = unsafe { a.alloc(layout(64, 64)) };
        assert_eq!(*a.backing.held.borrow(), 2, "no chunk for either");
        assert_eq!(aligned as usize % 64, 0);
        unsafe {
            a.dealloc(large, layout(LARGE + 1, 8));
            a.dealloc(aligned, layout(64, 64));
        }
        assert_eq!(*a.backing.held.borrow(), 0);
    }

    #[test]
    fn blocks_are_aligned_as_asked() {
        let a = Chunked::new(Counting::default());
        for align in [1, 2, 4, 8, 16] {
            let _odd = unsafe { a.alloc(layout(3, 1)) };
            let block = unsafe { a.alloc(layout(5, align)) };
            assert_eq!(block as usize % align, 0, "alignment {align}");
        }
    }

    #[test]
    fn the_last_block_grows_in_place_and_others_move_with_their_bytes() {
        let a = Chunked::new(Counting::default());
        let below = filled(&a, 16, 1);
        let top = filled(&a, 16, 2);
        let grown = unsafe { a.realloc(top, layout(16, 8), 64) };
        assert_eq!(grown, top, "the last block grows where it is");
        let moved = unsafe { a.realloc(below, layout(16, 8), 64) };
        assert_ne!(moved, below, "a block below another moves");
        assert!(holds(moved, 16, 1), "its bytes move with it");
        let to_large = unsafe { a.realloc(moved, layout(64, 8), LARGE * 2) };
        assert!(holds(to_large, 16, 1));
        let back = unsafe { a.realloc(to_large, layout(LARGE * 2, 8), 32) };
        assert!(holds(back, 16, 1));
        assert_eq!(chunk_of(back), chunk_of(top), "small again, in a chunk");
    }

    #[test]
    fn a_block_grown_in_place_is_not_handed_out_again() {
        let a = Chunked::new(Counting::default());
        let top = filled(&a, 16, 1);
        let grown = unsafe { a.realloc(top, layout(16, 8), 64) };
        assert_eq!(grown, top);
        unsafe { ptr::write_bytes(grown, 1, 64) };
        let next = filled(&a, 64, 2);
        assert!(holds(grown, 64, 1), "the grown block is intact");
        assert!(holds(next, 64, 2));
    }

    #[test]
    fn the_last_block_of_a_full_chunk_moves_to_grow() {
        let a = Chunked::new(Counting::default());
        let first = filled(&a, 8, 0);
        let chunk = chunk_of(first);
        // Blocks of 8 bytes from the first one to the chunk's end: the last
        // of them ends the chunk.
        let count = (chunk as usize + CHUNK - first as usize) / 8;
        let blocks: Vec<*mut u8> = (1..count).map(|_| filled(&a, 8, 0)).collect();
        let last = *blocks.last().expect("blocks");
        assert_eq!(chunk_of(last), chunk);
        assert_eq!(
            last as usize + 8,
            chunk as usize + CHUNK,
            "the chunk is full"
        );
        unsafe { ptr::write_bytes(last, 3, 8) };
        let moved = unsafe { a.realloc(last, layout(8, 8), 64) };
        assert_ne!(
            chunk_of(moved),
            chunk,
            "a block cannot grow past its chunk's end"
        );
        assert!(holds(moved, 8, 3), "its bytes move with it");
    }

    #[test]
    fn overaligned_blocks_are_reallocated_by_the_backing_allocator() {
        let a = Chunked::new(Counting::default());
        let block = unsafe { a.alloc(layout(64, 64)) };
        unsafe { ptr::write_bytes(block, 5, 64) };
        let grown = unsafe { a.realloc(block, layout(64, 64), 128) };
        assert_eq!(grown as usize % 64, 0);
        assert!(holds(grown, 64, 5));
        let shrunk = unsafe { a.realloc(grown, layout(128, 64), 32) };
        assert_eq!(shrunk as usize % 64, 0);
        assert!(holds(shrunk, 32, 5));
        unsafe { a.dealloc(shrunk, layout(32, 64)) };
        assert_eq!(*a.backing.held.borrow(), 0, "no chunk, nothing left");
    }

    #[test]
    fn a_random_workload_never_overlaps_or_corrupts_blocks() {
        let a = Chunked::new(Counting::default());
        let mut live: Vec<(*mut u8, usize, u8)> = Vec::new();
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut random = |below: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % below as u64) as usize
        };
        for step in 0..20_000 {
            let byte = (step % 251) as u8;
            match random(3) {
                0 | 1 if live.len() < 2_000 => {
                    let size = [1, 8, 24, 100, 4000, LARGE, LARGE + 1, 20_000][random(8)];
                    live.push((filled(&a, size, byte), size, byte));
                }
                _ if !live.is_empty() => {
                    let (block, size, old) = live.swap_remove(random(live.len()));
                    assert!(
                        holds(block, size, old),
                        "step {step}: a block was overwritten"
                    );
                    if random(2) == 0 {
                        unsafe { a.dealloc(block, layout(size, 8)) };
                    } else {
                        let new_size = [2, 30, 5000, LARGE + 100][random(4)];
                        let moved = unsafe { a.realloc(block, layout(size, 8), new_size) };
                        assert!(holds(moved, size.min(new_size), old));
                        unsafe { ptr::write_bytes(moved, byte, new_size) };
                        live.push((moved, new_size, byte));
                    }
                }
                _ => {}
            }
        }
        for (block, size, byte) in live {
            assert!(holds(block, size, byte));
            unsafe { a.dealloc(block, layout(size, 8)) };
        }
        let chunks = *a.backing.chunks.borrow();
        assert_eq!(
            *a.backing.held.borrow(),
            chunks,
            "every large block is freed"
        );
        // All chunks are empty: another burst reuses them.
        let burst: Vec<*mut u8> = (0..chunks * 8).map(|_| filled(&a, 4000, 9)).collect();
        assert_eq!(
            *a.backing.chunks.borrow(),
            chunks,
            "no new chunk for the same load"
        );
        for block in burst {
            unsafe { a.dealloc(block, layout(4000, 8)) };
        }
    }
}
