//! Health checks for agent containers.
