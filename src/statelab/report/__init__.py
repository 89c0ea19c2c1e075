"""The HTML report: a toolkit (toolkit.py), one page per kind of result (study.py for
`reproduce`, generalise.py for `generalise`; a page imports only the toolkit), and the
dispatch that picks the page by the folder's kind and writes it (write.py)."""
