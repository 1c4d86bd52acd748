// Placeholder: the server assembly is being written.
