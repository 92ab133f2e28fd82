"""Parts of pages too long for one file; each module draws one part of one page."""
