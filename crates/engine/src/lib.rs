//! The pipeline: drives each input through the stages and hands events to a sink.
#![forbid(unsafe_code)]
