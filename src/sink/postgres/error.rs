//! The PostgreSQL sink's error: what was being done, and the cause.

use std::fmt;

/// A PostgreSQL sink failure: what was being done, and the server's or the network's cause.
#[derive(Debug)]
pub(crate) struct Error {
    message: String,
    source: Option<postgres::Error>,
}

impl Error {
    pub(super) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }

    pub(super) fn pg(message: impl Into<String>, e: postgres::Error) -> Self {
        Self {
            message: message.into(),
            source: Some(e),
        }
    }
}

impl Error {
    /// The operating system's cause, when the connection failed for one (refused, no socket).
    pub(crate) fn io_kind(&self) -> Option<std::io::ErrorKind> {
        let mut cause = std::error::Error::source(self.source.as_ref()?);
        while let Some(c) = cause {
            if let Some(io) = c.downcast_ref::<std::io::Error>() {
                return Some(io.kind());
            }
            cause = c.source();
        }
        None
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            // The server's own message (and detail) is what a user needs to see.
            Some(e) => match e.as_db_error() {
                Some(db) => write!(f, "postgres: {}: {}", self.message, db.message()),
                None => {
                    write!(f, "postgres: {}: {e}", self.message)?;
                    // The cause (refused, no such socket, authentication) is further down.
                    let mut cause = std::error::Error::source(e);
                    while let Some(c) = cause {
                        write!(f, ": {c}")?;
                        cause = c.source();
                    }
                    Ok(())
                }
            },
            None => write!(f, "postgres: {}", self.message),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
