"""Serving: ONNX export and ONNX Runtime inference, a loaded segmenter for the HTTP service and the viewer."""
