"""The CNN: architecture, training, prediction, and its safetensors + JSON format."""
