"""Results tables from run folders: seed means, video-bootstrap CIs, paired tests; Markdown, CSV and LaTeX."""
