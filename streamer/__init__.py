"""The spectrogram streamer: DSP engine, data sources and the gRPC server."""
