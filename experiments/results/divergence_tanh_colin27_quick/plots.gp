# Made by `qat table`; redraw with: gnuplot plots.gp (from this folder)
set terminal pngcairo size 900,600 noenhanced
set grid
set output 'dice_vs_bits.png'
set title 'divergence_tanh_colin27_quick: val Dice (last epoch) against weight bits'
set xlabel 'weight bits (log scale; 32 = float)'
set ylabel 'Dice %'
set logscale x 2
set offsets graph 0.05, graph 0.05, 0, 0
set yrange [0:100]
set key bottom right
plot 'dice_vs_bits.dat' index 0 using 1:2:3 with yerrorlines lw 2 title 'ours relu', '' index 0 using 1:4 with linespoints dt 2 title 'paper relu', \
     'dice_vs_bits.dat' index 1 using 1:2:3 with yerrorlines lw 2 title 'ours tanh', '' index 1 using 1:4 with linespoints dt 2 title 'paper tanh', \
     'dice_vs_bits.dat' index 2 using 1:2:3 with yerrorlines lw 2 title 'ours ternary_tanh', '' index 2 using 1:4 with linespoints dt 2 title 'paper ternary_tanh', \
     'dice_vs_bits.dat' index 3 using 1:2:3 with yerrorlines lw 2 title 'ours ternary_tanh_soft', '' index 3 using 1:4 with linespoints dt 2 title 'paper ternary_tanh_soft'
unset logscale x
set offsets 0, 0, 0, 0
set autoscale y
set output 'curves_relu.png'
set title 'divergence_tanh_colin27_quick relu: mean val Dice per epoch'
set xlabel 'epoch'
set ylabel 'Dice %'
set key bottom right
plot 'curves_relu.dat' index 0 using 1:2 with lines lw 2 title 'fp'
set output 'curves_tanh.png'
set title 'divergence_tanh_colin27_quick tanh: mean val Dice per epoch'
set xlabel 'epoch'
set ylabel 'Dice %'
set key bottom right
plot 'curves_tanh.dat' index 0 using 1:2 with lines lw 2 title 'fp'
set output 'curves_ternary_tanh.png'
set title 'divergence_tanh_colin27_quick ternary_tanh: mean val Dice per epoch'
set xlabel 'epoch'
set ylabel 'Dice %'
set key bottom right
plot 'curves_ternary_tanh.dat' index 0 using 1:2 with lines lw 2 title 'fp'
set output 'curves_ternary_tanh_soft.png'
set title 'divergence_tanh_colin27_quick ternary_tanh_soft: mean val Dice per epoch'
set xlabel 'epoch'
set ylabel 'Dice %'
set key bottom right
plot 'curves_ternary_tanh_soft.dat' index 0 using 1:2 with lines lw 2 title 'fp'
