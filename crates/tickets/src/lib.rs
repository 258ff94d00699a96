//! Admission tickets (准考证).
pub mod number;
pub mod seating;
