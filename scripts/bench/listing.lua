-- wrk script: the product-listing query (20 products with price, seller name and rating).
dofile("scripts/bench/errors.lua")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"query":"{ products(first: 20, currency: \\"EUR\\") { edges { node { id title price { amount currency } seller { name } rating reviewCount } } } }"}'
