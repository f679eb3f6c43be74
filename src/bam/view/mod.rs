//! BAM records one at a time, as text: SAM lines byte for byte as `samtools view` prints them
//! (`sam`), and the walk over a whole file or region by region that `bam view` and `bam view -c`
//! use (`walk`).

pub(crate) mod sam;
pub(crate) mod walk;
