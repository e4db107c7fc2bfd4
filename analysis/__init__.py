"""Tables and figures from run folders and prediction files (`python analysis/<tool>.py ...`)."""
