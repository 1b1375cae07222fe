//! Operator controls: pools paused, resumed and resized on every node; the audit log of
//! operator actions; sensitive payload fields encrypted at rest.

mod common;

mod operations {
    mod audit;
    mod cli;
    mod pools;
    mod sensitive;
}
