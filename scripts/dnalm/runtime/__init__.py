"""Where and how the work runs: device, precision and attention choices, memory allocator, several GPUs."""
