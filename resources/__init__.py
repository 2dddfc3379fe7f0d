"""Package data: icons, badge art and the pages the loopback listener serves."""
