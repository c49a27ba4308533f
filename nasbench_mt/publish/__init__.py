"""Publishing a release: summarize it into the data card, plot the card, check it, reproduce rows."""
