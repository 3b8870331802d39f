"""Generated gRPC code of the streamer (see codegen.py); never edit the *_pb2*.py files."""
