"""The on-call dashboard: pages, plotly figures and exports over the store (never the business databases)."""
