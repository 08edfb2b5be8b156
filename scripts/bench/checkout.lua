-- wrk script: the checkout mutation, each request with its own idempotency key, for a
-- digital SKU (no stock to run out). BAZAAR_BENCH_TOKEN and BAZAAR_BENCH_SKU come from the
-- environment.
local token = os.getenv("BAZAAR_BENCH_TOKEN")
local sku = os.getenv("BAZAAR_BENCH_SKU")
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  errors = 0
end

function request()
  counter = counter + 1
  local body = string.format('{"query":"mutation { checkout(idempotencyKey: \\"bench-%d-%d-%d\\", input: {currency: \\"EUR\\", lines: [{skuId: \\"%s\\", quantity: 1}]}) { id total { amount } } }"}', id, counter, os.time(), sku)
  return wrk.format("POST", "/graphql", {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
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
