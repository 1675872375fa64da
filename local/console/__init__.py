"""The local console: the running stack watched live in a browser, served on the control port.

`routes` answers the HTTP requests (the page, its script and style, and the JSON it polls), `views` reads
what the page shows (the dashboards' data, alarms, counts, faults), `feed` what people would have received.
Everything the page needs is served from `static/`: no CDN, no build step, and never the API key.
"""
