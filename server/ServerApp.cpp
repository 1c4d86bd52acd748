// Placeholder: the ServerApplication is being written.
