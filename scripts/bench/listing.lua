-- wrk script: the product-listing query (20 products with price, seller name and rating).
-- Counts responses that carry GraphQL errors, so a fast error is not mistaken for a result.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"query":"{ products(first: 20, currency: \\"EUR\\") { edges { node { id title price { amount currency } seller { name } rating reviewCount } } } }"}'

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  errors = 0
end

function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    errors = errors + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("errors")
  end
  io.write(string.format("graphql_errors=%d\n", total))
end
