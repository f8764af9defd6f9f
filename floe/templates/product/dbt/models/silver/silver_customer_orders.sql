select o.order_id, o.customer_id, c.name, c.country, o.amount, o.ordered_at
from {{ ref('bronze_orders') }} o
join {{ ref('bronze_customers') }} c using (customer_id)
