//! SeaORM entities: one module per table.

pub mod access_audit;
pub mod agency;
pub mod calendar_file;
pub mod dead_letter;
pub mod disclosure;
pub mod feedback;
pub mod held_event;
pub mod history;
pub mod inbox;
pub mod jurisdiction;
pub mod jurisdiction_agency;
pub mod jurisdiction_definition;
pub mod opinion;
pub mod outbox;
pub mod proposal;
pub mod reply;
pub mod task;
pub mod timer;
pub mod token;
pub mod workflow_definition;
