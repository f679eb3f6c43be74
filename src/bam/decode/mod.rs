//! BAM records into Arrow: the column table (`columns`), the per-batch buffers (`buffers`),
//! blocks of records validated and decoded into a batch (`batch`), and the batch jobs framed on
//! the calling thread and decoded on the workers (`job`).

pub(crate) mod batch;
pub(crate) mod buffers;
pub(crate) mod columns;
pub(crate) mod job;
