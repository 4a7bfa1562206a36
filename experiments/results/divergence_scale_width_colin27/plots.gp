# Made by `qat table`; redraw with: gnuplot plots.gp (from this folder)
set terminal pngcairo size 900,600 noenhanced
set grid
set output 'dice_vs_bits.png'
set title 'divergence_scale_width_colin27: val Dice (last epoch) against weight bits'
set xlabel 'weight bits (log scale; 32 = float)'
set ylabel 'Dice %'
set logscale x 2
set offsets graph 0.05, graph 0.05, 0, 0
set yrange [0:100]
set key bottom right
plot 'dice_vs_bits.dat' index 0 using 1:2:3 with yerrorlines lw 2 title 'ours w8', '' index 0 using 1:4 with linespoints dt 2 title 'paper w8', \
     'dice_vs_bits.dat' index 1 using 1:2:3 with yerrorlines lw 2 title 'ours w16', '' index 1 using 1:4 with linespoints dt 2 title 'paper w16', \
     'dice_vs_bits.dat' index 2 using 1:2:3 with yerrorlines lw 2 title 'ours w32', '' index 2 using 1:4 with linespoints dt 2 title 'paper w32'
unset logscale x
set offsets 0, 0, 0, 0
set autoscale y
set output 'curves_w8.png'
set title 'divergence_scale_width_colin27 w8: mean val Dice per epoch'
set xlabel 'epoch'
set ylabel 'Dice %'
set key bottom right
plot 'curves_w8.dat' index 0 using 1:2 with lines lw 2 title 'fp', \
     'curves_w8.dat' index 1 using 1:2 with lines lw 2 title 'bnn', \
     'curves_w8.dat' index 2 using 1:2 with lines lw 2 title 'fp_ternary_tanh'
set output 'curves_w16.png'
set title 'divergence_scale_width_colin27 w16: mean val Dice per epoch'
set xlabel 'epoch'
set ylabel 'Dice %'
set key bottom right
plot 'curves_w16.dat' index 0 using 1:2 with lines lw 2 title 'fp', \
     'curves_w16.dat' index 1 using 1:2 with lines lw 2 title 'bnn', \
     'curves_w16.dat' index 2 using 1:2 with lines lw 2 title 'fp_ternary_tanh'
set output 'curves_w32.png'
set title 'divergence_scale_width_colin27 w32: mean val Dice per epoch'
set xlabel 'epoch'
set ylabel 'Dice %'
set key bottom right
plot 'curves_w32.dat' index 0 using 1:2 with lines lw 2 title 'fp', \
     'curves_w32.dat' index 1 using 1:2 with lines lw 2 title 'bnn', \
     'curves_w32.dat' index 2 using 1:2 with lines lw 2 title 'fp_ternary_tanh'
